"""What a webhook target receives is signed as the Standard Webhooks specification says: proven
on the specification's own published test vector."""

from __future__ import annotations

import base64

from source_sentry.webhooks.forward import signing
from source_sentry.webhooks.forward.config import Target
from source_sentry.webhooks.forward.outbox import Claimed
from source_sentry.webhooks.forward.sender import request_for
from tools.forward_target import verify

# standard-webhooks/standard-webhooks: the published example.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def target() -> Target:
    return Target(name="hook", kind="webhook", url="http://127.0.0.1:1/hook", secret=VECTOR_SECRET)


def test_given_the_specifications_test_vector_when_signed_then_the_published_signature():
    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    assert signing.signature(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_given_a_target_secret_when_the_key_is_derived_then_it_is_the_base64_part_decoded():
    assert (
        signing.signature(target().signing_key(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
        == VECTOR_SIGNATURE
    )


def test_given_a_claimed_delivery_when_the_webhook_request_is_built_then_sentrys_bytes_signed_with_its_id():
    body = b'{"action":"created","data":{"issue":{"id":"1"}}}'
    row = Claimed(1, "hook", 7, VECTOR_ID, 0, 0, "claim", "issue", "created", body)
    content, sent = request_for(target(), row, VECTOR_TIMESTAMP)
    assert content == body
    assert sent["webhook-id"] == VECTOR_ID
    assert sent["webhook-timestamp"] == str(VECTOR_TIMESTAMP)
    assert sent["webhook-signature"] == signing.signature(
        target().signing_key(), VECTOR_ID, VECTOR_TIMESTAMP, body
    )
    assert sent["sentry-hook-resource"] == "issue"


def test_given_the_docs_verifier_when_given_the_vector_then_it_accepts_it_and_refuses_a_changed_body(
    monkeypatch,
):
    monkeypatch.setattr("time.time", lambda: VECTOR_TIMESTAMP + 10)
    sent = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify(VECTOR_SECRET, sent, VECTOR_BODY)
    assert not verify(VECTOR_SECRET, sent, VECTOR_BODY.replace(b"2", b"3"))
    assert not verify(VECTOR_SECRET, {**sent, "webhook-id": "msg_other"}, VECTOR_BODY)

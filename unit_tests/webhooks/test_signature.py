from __future__ import annotations

import hashlib
import hmac

from source_sentry.webhooks.signature import sign, signature_matches
from tools.receiver import OLD_SECRET, SECRET, issue_body

BODY = issue_body("resolved", "42", "resolved")


def test_given_sentry_signature_when_computed_then_it_is_lowercase_hex_hmac_sha256_of_the_bytes():
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == expected
    assert expected == expected.lower()
    assert len(expected) == 64


def test_given_body_signed_with_current_secret_when_verified_then_it_matches():
    assert signature_matches(BODY, sign(BODY, SECRET), [SECRET, OLD_SECRET])


def test_given_body_signed_with_old_secret_during_rotation_when_verified_then_it_matches():
    assert signature_matches(BODY, sign(BODY, OLD_SECRET), [SECRET, OLD_SECRET])


def test_given_old_secret_removed_after_rotation_when_verified_then_it_no_longer_matches():
    assert not signature_matches(BODY, sign(BODY, OLD_SECRET), [SECRET])


def test_given_one_byte_changed_in_the_body_when_verified_then_it_does_not_match():
    tampered = BODY.replace(b'"resolved"', b'"unresolved"', 1)
    assert tampered != BODY
    assert not signature_matches(tampered, sign(BODY, SECRET), [SECRET])


def test_given_body_reserialised_with_spaces_when_verified_then_it_does_not_match():
    # What a receiver that parsed and re-dumped the JSON would check: it must not pass.
    import json

    respaced = json.dumps(json.loads(BODY)).encode()
    assert not signature_matches(respaced, sign(BODY, SECRET), [SECRET])


def test_given_missing_empty_or_non_ascii_signature_when_verified_then_it_does_not_match():
    assert not signature_matches(BODY, None, [SECRET])
    assert not signature_matches(BODY, "", [SECRET])
    assert not signature_matches(BODY, "é" * 64, [SECRET])


def test_given_signature_with_surrounding_whitespace_when_verified_then_it_matches():
    assert signature_matches(BODY, f" {sign(BODY, SECRET)}\t", [SECRET])

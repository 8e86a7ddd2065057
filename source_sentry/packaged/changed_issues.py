"""The issues stream's re-read of issues the webhook feed says changed (packaged connector only).

Resolving, ignoring, assigning or reopening an issue does not move its lastSeen, and Sentry's
search cannot ask "changed since": the lastSeen read misses such a change until the status
sweep (`issue_status_refresh_hours`). When the connection names a webhook receiver
(`webhooks_url`, `webhooks_token`), every sync of `issues` also:

1. reads the receiver's feed after the position kept in the issues stream's state, before the
   lastSeen read starts, and notes each issue an `issue` or `comment` delivery names;
2. lets the lastSeen read run, noting each issue it sends (it read them after those deliveries
   were kept, so it sent them as they are now);
3. reads the others again from Sentry, 100 at a time (`organizations/{org}/issues/?group=ID...`:
   exactly those issues, whatever their status, in one answer; the webhook's payload is not the
   list's shape), keeps those in the configured projects and within the read's dates, and sends
   them, each batch followed by a state holding how far the feed is done.

The position is part of the issues stream's state (`FEED_POSITION_KEY` beside the CDK's keys):
every state message of the lastSeen read carries the position the sync started from, so an
interrupted sync reads again at most what it had not committed.

Why not the manifest: the issues stream is partitioned per project with a lastSeen cursor, and no
declarative stream can add records read by id from another source of ids, nor keep a second
position in that state. The Cloud manifest keeps the lastSeen read and the sweep alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    FailureType,
    StreamDescriptor,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sentry.config import ConfigError, resolve_settings
from source_sentry.feed_check import FEED_PATH, feed_settings, shown
from source_sentry.sentry_api import SentryApi, SentryUnavailable, describe_error
from source_sentry.state import FEED_POSITION_KEY

STREAM: Final = "issues"
# Deliveries naming an issue whose list item they change: its status, assignee, or comments.
# `error` deliveries move lastSeen, which the lastSeen read follows.
RESOURCES: Final = frozenset({"issue", "comment"})
# Issues asked for in one request. Sentry's index answers every `group` id in one page, with no
# cap in its code: the bound is the URL (about 17 bytes an id, under 2 KB here).
BATCH: Final = 100

logger = logging.getLogger("airbyte")


class FeedUnavailable(Exception):
    """The receiver could not be read now (down, 5xx): this sync skips the re-read."""


class ChangedIssues:
    """One sync's re-read: `around(messages)` wraps the CDK's read (see the module's text)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        position: int,
        *,
        feed: SentryApi,
        sentry: SentryApi,
        clock: Any = time.time,
    ) -> None:
        settings = resolve_settings(config)
        self._organization = settings.organization
        self._scope = frozenset(settings.projects)
        self._feed = feed
        self._sentry = sentry
        self._clock = clock
        now = datetime.fromtimestamp(clock(), UTC)
        start = config.get("start_date")
        self._first = _instant(start) if start else now - timedelta(days=90)
        # As the lastSeen read's own end: an issue seen later comes with that read next sync.
        self._end = now - timedelta(seconds=int(config.get("settle_seconds", 300)))
        self.position = position  # the feed's seq every change up to which is sent
        self.requests = 0  # to Sentry, for the log line and the benchmark
        self._state: dict[str, Any] | None = None  # the CDK's latest issues state
        self.sent: set[str] = set()  # ids of the issues the lastSeen read sent

    @classmethod
    def for_read(
        cls,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None,
    ) -> ChangedIssues | None:
        """The re-read for this sync, or None when there is none to do: no receiver configured,
        `issues` not read incrementally, or a GlitchTip server (which sends no Sentry webhooks)."""
        wanted = any(c.stream.name == STREAM and c.sync_mode == SyncMode.incremental for c in catalog.streams)
        if not wanted or config.get("server") == "glitchtip":
            return None
        try:
            receiver = feed_settings(config)
            settings = resolve_settings(config)
        except ConfigError as error:
            raise AirbyteTracedException(message=str(error), failure_type=FailureType.config_error) from None
        if receiver is None:
            return None
        base, token = receiver
        return cls(
            config,
            _position(state),
            feed=SentryApi(base, token, timeout=30),
            sentry=SentryApi(settings.base_url, settings.token, timeout=60),
        )

    def around(self, messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
        """The CDK's `messages`, the changed issues it did not send, and the states between."""
        try:
            changed, head = self.read_feed()
        except FeedUnavailable as error:
            logger.warning(
                f"{error} Issues changed since the last sync are not read again this time; "
                "the next sync reads them (the feed position is kept)."
            )
            yield from self._carrying_position(messages, None)
            return
        held: list[AirbyteMessage] = []
        yield from self._carrying_position(messages, held)
        if not held:  # the issues stream did not complete: nothing more is read or committed
            return
        yield from self.reread(changed, head)
        yield from held

    def read_feed(self) -> tuple[list[tuple[int, str, str | None]], int]:
        """Every delivery naming an issue after the position, as (the seq before it, issue id,
        project slug) in feed order, and the feed's last seq."""
        after = self.position
        changed: list[tuple[int, str, str | None]] = []
        while True:
            page = self._feed_page(after)
            previous = after
            for entry in page["deliveries"]:
                issue = entry.get("issue_id")
                if entry.get("resource") in RESOURCES and issue and str(issue).isdigit():
                    changed.append((previous, str(issue), entry.get("project_slug")))
                previous = int(entry["seq"])
            after = int(page.get("next_after") or previous)
            if not page.get("more") or not page["deliveries"]:
                return changed, after

    def _feed_page(self, after: int) -> dict[str, Any]:
        where = shown(self._feed.base_url + FEED_PATH)
        try:
            response = self._feed.request("GET", FEED_PATH, params={"after": after})
        except SentryUnavailable as error:
            # Its words, not the error's: those name the URL as given, a password in it included.
            problem = f"answered {error.status}" if error.status else "could not be reached"
            raise FeedUnavailable(f"The webhook receiver's feed at {where} {problem}.") from None
        status = response.status_code
        if status in (401, 403):
            raise AirbyteTracedException(
                message=f"The webhook receiver refused webhooks_token ({status}): give the "
                "receiver's feed_token.",
                failure_type=FailureType.config_error,
            )
        if status == 404:
            raise AirbyteTracedException(
                message=f"Nothing serves the webhook feed at {where} (404): webhooks_url must be the "
                "receiver's base URL, without /v1/deliveries or /sentry/webhook.",
                failure_type=FailureType.config_error,
            )
        try:
            body = response.json() if status == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("deliveries"), list):
            raise FeedUnavailable(f"The webhook receiver's feed at {where} answered {status}, not its feed.")
        return body

    def _carrying_position(
        self, messages: Iterable[AirbyteMessage], held: list[AirbyteMessage] | None
    ) -> Iterator[AirbyteMessage]:
        """The CDK's messages, each issues state carrying the position this sync started from; the
        issues stream's completion is put in `held` (sent once the re-read is done). The ids of
        the issues sent are noted."""
        for message in messages:
            if message.type == Type.RECORD and message.record is not None and message.record.stream == STREAM:
                self.sent.add(str(message.record.data.get("id")))
            elif (blob := _issues_state(message)) is not None:
                self._state = blob
                message = self._state_message()
            elif held is not None and _is_issues_completion(message):
                held.append(message)
                continue
            yield message

    def reread(self, changed: list[tuple[int, str, str | None]], head: int) -> Iterator[AirbyteMessage]:
        """The changed issues not sent yet, a batch at a time, each batch followed by a state."""
        pending: list[tuple[int, str]] = []  # (the seq before its first delivery, issue id)
        seen: set[str] = set(self.sent)
        for before, issue, slug in changed:
            if issue in seen or (self._scope and slug is not None and slug not in self._scope):
                continue
            seen.add(issue)
            pending.append((before, issue))
        sent = 0
        for index in range(0, len(pending), BATCH):
            batch = pending[index : index + BATCH]
            emitted_at = int(self._clock() * 1000)
            for record in self._issues([issue for _, issue in batch]):
                if self._keeps(record):
                    sent += 1
                    yield AirbyteMessage(
                        type=Type.RECORD,
                        record=AirbyteRecordMessage(stream=STREAM, data=record, emitted_at=emitted_at),
                    )
            following = index + BATCH
            self.position = pending[following][0] if following < len(pending) else head
            yield self._state_message()
        if not pending:
            self.position = head
            yield self._state_message()
        if changed:
            logger.info(
                f"The webhook feed named {len({issue for _, issue, _ in changed})} changed issues: "
                f"{len(pending)} not sent by the lastSeen read were read again in {self.requests} "
                f"requests, {sent} of them sent (the others are outside the configured projects or dates)."
            )

    def _issues(self, ids: list[str]) -> list[dict[str, Any]]:
        path = f"organizations/{self._organization}/issues/"
        # `query=` empty: Sentry ignores the query when ids are given, but its default
        # (is:unresolved) is not asked for. `project=-1`: every project the token can read.
        params = {"group": ids, "project": -1, "query": ""}
        self.requests += 1
        try:
            response = self._sentry.request("GET", path, params=params)
        except SentryUnavailable as error:
            raise AirbyteTracedException(
                message=f"Reading issues changed according to the webhook feed failed: {error}",
                failure_type=FailureType.transient_error,
            ) from None
        if response.status_code != 200:
            raise AirbyteTracedException(
                message=f"Reading issues changed according to the webhook feed failed: Sentry answered "
                f"{response.status_code} to GET {path}?group=...: {describe_error(response)}",
                failure_type=FailureType.system_error,
            )
        body = response.json()
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

    def _keeps(self, record: Mapping[str, Any]) -> bool:
        """In the configured projects, and within the lastSeen read's dates: from its first date
        (start_date, else 90 days back) to its end (now less settle_seconds); an issue seen later
        comes with the next sync's lastSeen read."""
        project = record.get("project") or {}
        if self._scope and project.get("slug") not in self._scope:
            return False
        try:
            seen = _instant(str(record["lastSeen"]))
        except (KeyError, ValueError):
            return True
        return self._first <= seen <= self._end

    def _state_message(self) -> AirbyteMessage:
        blob = {**(self._state or {}), FEED_POSITION_KEY: self.position}
        return AirbyteMessage(
            type=Type.STATE,
            state=AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(
                    stream_descriptor=StreamDescriptor(name=STREAM), stream_state=AirbyteStateBlob(**blob)
                ),
            ),
        )


def _position(state: list[AirbyteStateMessage] | None) -> int:
    for message in state or []:
        stream = message.stream
        if stream is not None and stream.stream_descriptor.name == STREAM and stream.stream_state:
            value = stream.stream_state.__dict__.get(FEED_POSITION_KEY)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
    return 0


def _issues_state(message: AirbyteMessage) -> dict[str, Any] | None:
    """The stream state of an issues state message (None for any other message)."""
    state = message.state
    if message.type != Type.STATE or state is None or state.stream is None:
        return None
    if state.stream.stream_descriptor.name != STREAM:
        return None
    blob = state.stream.stream_state
    return dict(blob.__dict__) if blob is not None else {}


def _is_issues_completion(message: AirbyteMessage) -> bool:
    trace = message.trace
    return (
        message.type == Type.TRACE
        and trace is not None
        and trace.type == TraceType.STREAM_STATUS
        and trace.stream_status is not None
        and trace.stream_status.stream_descriptor.name == STREAM
        and trace.stream_status.status == AirbyteStreamStatus.COMPLETE
    )


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)

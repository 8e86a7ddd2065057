"""How the command writes the Airbyte protocol to stdout: the CDK's messages, with records written
straight to bytes.

The CDK turns every message into a dict (serpyco), then JSON bytes (orjson), then a str; `launch`
copies that str into a line, its print buffer copies the line into a StringIO and out again, and
stdout encodes it back to bytes. An events record is some 3 KB of JSON, so that is five copies and
two UTF-8 passes per record, on the one thread that every record goes through. Here a record
message is written by orjson straight into a byte buffer: the same bytes as the CDK's, checked by
test_output against the CDK's own function. Every other message, and a record orjson refuses (the
CDK then falls back to the standard library, with a warning), goes the CDK's way.

Everything else the process prints or logs goes into the same buffer in the order written, so
lines are never torn or reordered; the buffer is written out every 0.1 s, as the CDK's is.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import orjson
from airbyte_cdk.models import AirbyteMessage, Type

if TYPE_CHECKING:
    from airbyte_cdk.sources import Source

# The CDK's print buffer writes out at this interval; so does this one.
FLUSH_INTERVAL = 0.1
_RECORD_HEAD = b'{"type":"RECORD","record":{"stream":'
_STATE_HEAD = b'{"type":"STATE"'


class ProtocolOutput:
    """A thread-safe byte buffer in front of stdout: lines (bytes) and text both go in, in the
    order written, and go out every FLUSH_INTERVAL seconds and when asked."""

    def __init__(self, raw: IO[bytes], text: IO[str] | None = None, interval: float = FLUSH_INTERVAL) -> None:
        self._raw = raw
        self._text = text  # a text stream over `raw`, flushed first so nothing it holds is overtaken
        self._interval = interval
        self._buffer = bytearray()
        self._lock = threading.RLock()
        self._last_flush = time.monotonic()

    def put(self, data: bytes) -> None:
        with self._lock:
            self._buffer += data
            now = time.monotonic()
            if now - self._last_flush >= self._interval:
                self._flush()
                self._last_flush = now

    def write(self, text: str) -> int:
        """Text (print, logging): encoded as stdout would."""
        self.put(_encoded(text))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._text is not None:
            self._text.flush()
        if self._buffer:
            self._raw.write(self._buffer)
            self._buffer = bytearray()
        self._raw.flush()

    # What print() and logging may ask of a stream.
    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def message_line(message: AirbyteMessage, to_string: Callable[[AirbyteMessage], str]) -> bytes:
    """The protocol line of `message`: the bytes of ``to_string(message)`` (the CDK's function)
    and a newline, with a plain record message (the record and its type alone, no namespace, meta
    or file) written by orjson directly."""
    record = message.record
    if (
        record is not None
        and record.namespace is None
        and record.meta is None
        and record.file_reference is None
        and type(record.emitted_at) is int
        and type(record.stream) is str
        and _only_record(message)
    ):
        data = record.data
        if None in data.values():
            # The CDK's serializer leaves out the record's top-level fields that are None (those
            # nested deeper stay, as null).
            data = {key: value for key, value in data.items() if value is not None}
        try:
            body = orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError: the CDK's fallback decides
            pass
        else:
            return b"".join(
                (
                    _RECORD_HEAD,
                    orjson.dumps(record.stream),
                    b',"data":',
                    body,
                    b',"emitted_at":',
                    str(record.emitted_at).encode(),
                    b"}}\n",
                )
            )
    return _encoded(to_string(message) + "\n")


def _encoded(text: str) -> bytes:
    """Text as the process's stdout writes it."""
    return text.encode("utf-8", "surrogateescape")


def _only_record(message: AirbyteMessage) -> bool:
    return (
        message.type is Type.RECORD
        and message.log is None
        and message.spec is None
        and message.connectionStatus is None
        and message.catalog is None
        and message.state is None
        and message.trace is None
        and message.control is None
    )


def launch(source: Source, args: list[str]) -> None:
    """The CDK's `launch`, writing through a ProtocolOutput with records written by `message_line`."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint

    entrypoint = AirbyteEntrypoint(source)
    parsed = entrypoint.parse_args(args)
    stdout: Any = sys.__stdout__
    stdout.flush()
    out = ProtocolOutput(stdout.buffer, text=stdout)
    with _cdk_writes_lines(), _all_output_to(out):
        lines: Iterable[str | bytes] = entrypoint.run(parsed)
        for line in lines:
            if isinstance(line, bytes):
                out.put(line)
                if line.startswith(_STATE_HEAD):
                    # A state message goes out at once: a process stopped (SIGTERM) within the
                    # buffer's 0.1 s would lose it, and its retry would redo what it saved.
                    out.flush()
            else:
                out.write(line + "\n")


@contextmanager
def _cdk_writes_lines() -> Iterator[None]:
    """For this block the CDK's entrypoint turns each message into its protocol line (bytes)
    with `message_line`. The entrypoint looks its converter up on the class, inside `run`, so
    the class attribute is the one way in; it is put back on the way out."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint

    original = AirbyteEntrypoint.__dict__["airbyte_message_to_string"]
    to_string = original.__func__

    def to_line(message: AirbyteMessage) -> bytes:
        return message_line(message, to_string)

    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(to_line)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        AirbyteEntrypoint.airbyte_message_to_string = original  # type: ignore[method-assign]


@contextmanager
def _all_output_to(out: ProtocolOutput) -> Iterator[None]:
    """What the CDK's print buffer receives during `launch` (print, the CDK's log handler) goes to
    `out` instead, so that it is ordered with the messages."""
    from airbyte_cdk.logger import PRINT_BUFFER

    handlers = [
        handler
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is PRINT_BUFFER
    ]
    saved = sys.stdout, sys.stderr
    for handler in handlers:
        handler.setStream(out)
    sys.stdout = sys.stderr = out
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        for handler in handlers:
            handler.setStream(PRINT_BUFFER)
        out.flush()
        PRINT_BUFFER.flush()

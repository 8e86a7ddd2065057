"""The last error of a failed sync in the words of its first.

Airbyte shows a failed sync's last error message as the reason. The CDK ends a sync whose streams
failed with a summary of its own: each failed stream's exception as Python writes it, the raw
request and the response's headers included, after the clear message each stream's failure
already gave (a filter's "create a new token", say). Here that summary is replaced by the first
stream error's own message, with the list of streams that failed; the summary is kept as the
internal message, for the logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from airbyte_cdk.models import AirbyteErrorTraceMessage, AirbyteMessage, TraceType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


def in_the_first_words(messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
    """``messages`` as they come; an AirbyteTracedException ending them after a stream error
    message is raised again with that first message."""
    first: AirbyteErrorTraceMessage | None = None
    failed: list[str] = []
    try:
        for message in messages:
            error = _stream_error(message)
            if error is not None:
                first = first or error
                if error.stream_descriptor and error.stream_descriptor.name not in failed:
                    failed.append(error.stream_descriptor.name)
            yield message
    except AirbyteTracedException as summary:
        if first is None:
            raise
        streams = f" Streams that did not sync: {', '.join(failed)}." if failed else ""
        raise AirbyteTracedException(
            message=f"{first.message}{streams}",
            internal_message=summary.message,
            failure_type=summary.failure_type,
            exception=summary,
        ) from summary


def _stream_error(message: AirbyteMessage) -> AirbyteErrorTraceMessage | None:
    trace = message.trace
    if message.type is not Type.TRACE or trace is None or trace.type is not TraceType.ERROR:
        return None
    return trace.error

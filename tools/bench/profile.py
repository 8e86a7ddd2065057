"""Where the connector's time goes: a py-spy profile of one sync, folded into named buckets.

py-spy samples the process from outside (``--nonblocking``: the connector is never paused), so
the profiled run costs about what an unprofiled one does; ``--gil`` keeps only the samples of the
thread holding the GIL, so that threads waiting on sockets and queues do not count as work. Each
sample is put in the first bucket whose marker appears in its stack; the order below goes from the
most specific to the least.
"""

from __future__ import annotations

from collections import Counter

# (bucket, markers): a sample belongs to the first bucket one of whose markers is in a frame.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("start-up: imports, manifest parsing", ("<frozen importlib", "yaml/", "ManifestReferenceResolver",
                                             "ManifestComponentTransformer", "ModelToComponentFactory")),
    # The packaged connector decodes each page once (components.page_body) for every reader.
    ("page JSON decoded once, shared by every reader", ("page_body",)),
    ("page JSON decoded again by the paginator", ("PaginationDecoderDecorator.decode",)),
    ("page JSON decoded again by the `unreadable_body` response filter", ("_safe_response_json",)),
    ("response filters (Jinja predicates, error messages)", ("HttpResponseFilter",)),
    ("page JSON decoded for the records", ("JsonParser.parse", "CompositeRawDecoder.decode",
                                           "JsonDecoder.decode")),
    ("record filter conditions (Jinja, once per record)", ("RecordFilter.filter_records",)),
    ("schema normalisation", ("TypeTransformer", "_normalize_by_schema")),
    ("cursor and state", ("observe", "should_be_synced", "Cursor.", "cursor.py", "cursors.py")),
    ("writing messages to stdout", ("airbyte_message_to_string", "AirbyteMessageSerializer",
                                    "print_buffer", "PrintBuffer", "source_sentry/packaged/output.py")),
    ("HTTP (requests, urllib3, sockets)", ("requests/", "urllib3/", "http/client.py", "socket.py",
                                           "ssl.py", "call_rate.py")),
    ("threads waiting (queues, locks)", ("threading.py", "queue.py")),
]  # fmt: skip


def fold(raw_text: str) -> dict:
    """Fold py-spy's raw output (``frame;frame;... count`` per line) into bucket shares and the
    functions with the most own time."""
    buckets: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in raw_text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[_short(frames[-1])] += n
        for name, markers in BUCKETS:
            if any(m in f for f in frames for m in markers):
                buckets[name] += n
                break
        else:
            buckets["other"] += n
    return {
        "samples": total,
        "buckets": [(name, n / total) for name, n in buckets.most_common()] if total else [],
        "own": [(name, n / total) for name, n in own.most_common(12)] if total else [],
    }


def _short(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``."""
    func, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    return f"{func} ({'/'.join(parts[-2:])})" if parts else func

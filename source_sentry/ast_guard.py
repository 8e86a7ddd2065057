"""`ast.parse` made safe to call from several threads at once, on the Pythons where it is not.

CPython 3.11.0-3.11.7 and 3.12.0-3.12.1 keep the depth of the AST being built in one counter
shared by every thread, and each `ast.parse` starts by resetting it (gh-106905; fixed in 3.11.8
and 3.12.2). A garbage collection inside `ast.parse` can run a finalizer that lets another thread
run; if that thread parses too, the first parse ends on a counter that is not its own and fails
with `SystemError: AST constructor recursion depth mismatch`.

The CDK runs every interpolated value through `ast.literal_eval` (that is, `ast.parse`), on the
worker threads of a concurrent read. On 3.11.7 this ended a GlitchTip events sync in CI, once in
many runs; Debian bookworm's own Python is 3.11.2. On those versions the connector makes
`ast.parse` take a lock, so that one parse runs at a time: a few microseconds each, about five a
request. The lock is re-entrant so that a finalizer which parses on the thread it interrupted
cannot deadlock; that parse can still break the one it interrupted, as without the lock.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_MARK = "_source_sentry_serialized"


def affected(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> bool:
    """Whether this Python's `ast.parse` can fail when threads parse at once (gh-106905)."""
    return (3, 11) <= version < (3, 11, 8) or (3, 12) <= version < (3, 12, 2)


def serialized() -> bool:
    """Whether `ast.parse` is the locked one."""
    return bool(getattr(ast.parse, _MARK, False))


def serialize_ast_parse() -> None:
    """On an affected Python, replace `ast.parse` with one that holds a process-wide lock. Idempotent;
    elsewhere nothing changes."""
    if not affected() or serialized():
        return
    unguarded: Callable[..., Any] = ast.parse

    @functools.wraps(unguarded)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return unguarded(*args, **kwargs)

    setattr(parse, _MARK, True)
    # `ast.literal_eval` finds `parse` among the module's globals, so it takes the lock too.
    ast.parse = parse

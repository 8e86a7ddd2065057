"""Run as a script: one thread's `ast.literal_eval` is interrupted halfway through building its AST
(by a finalizer that the garbage collector runs there), and another thread parses meanwhile.
`guarded` first applies source_sentry.ast_guard. Prints what each parse gave, as JSON."""

from __future__ import annotations

import ast
import gc
import json
import sys
import threading

GUARDED = sys.argv[1] == "guarded"
if GUARDED:
    from source_sentry.ast_guard import serialize_ast_parse

    serialize_ast_parse()

# How long the interrupted parse gives the other thread: unguarded, the wait ends as soon as that
# thread has parsed, so it can be long enough for a loaded machine; guarded, the lock holds that
# thread back and the wait runs out, so it is only as long as a parse could ever need.
WAIT_SECONDS = 2.0 if GUARDED else 30.0

# The collections that run inside the first thread's parse before its finalizer lets the other
# thread in: the first ones come before the AST is built (the parser's own allocations).
COLLECTIONS_BEFORE = 5

collections_in_parse = 0
other_may_parse = threading.Event()
other_parsed = threading.Event()
outcome: dict[str, object] = {}


class Interrupt:
    """Garbage only the collector frees (a cycle), whose finalizer waits for another thread."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        global collections_in_parse
        if other_may_parse.is_set():
            return
        caller = sys._getframe(1).f_code
        if caller.co_name == "parse" and caller.co_filename == ast.__file__:
            collections_in_parse += 1
        if collections_in_parse < COLLECTIONS_BEFORE:
            Interrupt()  # not yet: leave new garbage for the next collection
            return
        other_may_parse.set()
        outcome["other_parsed_during"] = other_parsed.wait(WAIT_SECONDS)


def parse(source: str) -> str:
    try:
        ast.literal_eval(source)
    except SystemError as error:
        return str(error)
    return "ok"


def other() -> None:
    other_may_parse.wait()
    outcome["other"] = parse("[" + "(1,)," * 50 + "]")
    other_parsed.set()


thread = threading.Thread(target=other)
thread.start()
gc.collect()
gc.set_threshold(1)
Interrupt()
outcome["interrupted"] = parse("[" + "[1, 2]," * 50 + "]")
gc.set_threshold(700)
other_may_parse.set()
thread.join()
print(json.dumps(outcome))

"""Importing the CDK faster, with the same result (`quick_cdk_import`).

Importing `airbyte_cdk` builds eight serializers of the Airbyte protocol's classes (serpyco_rs).
Each one describes its classes, reading each class's source for its attributes' docstrings
(attributes_doc, through `inspect.getsource`), and builds its JSON schema right away.

- On Python before 3.13, `inspect.findsource` finds a class by parsing its whole module and walking
  the tree, once for each class asked about: over a hundred classes of the protocol's long module,
  a large share of the CDK's import time (figures: docs/benchmarks.md, "Figures behind the code").
  While the CDK is imported, `inspect.findsource` answers classes from one walk of each module,
  which finds the same line as the standard library's walk (the first class, in the same order,
  whose dotted path of classes and `<locals>` of functions is the class's qualified name);
  anything else, and a class not found so, goes to the standard library's function
  (`quick_class_sources`).
- The JSON schemas are asked for by no one in a sync, and building them costs import CPU (measured
  in the same place). Serializers made while the CDK is imported build theirs when first asked
  (`serializer_schemas_on_demand`), from the same description, so they answer the same.

Both are put back after the import.
"""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final


def class_lines(source: str) -> dict[str, int]:
    """Each class's qualified name -> the 0-based line where `inspect.findsource` says it starts
    (its first decorator's, else its own), for the first class of each name in the module's order."""
    found: dict[str, int] = {}

    def walk(node: ast.AST, path: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(child, (*path, child.name, "<locals>"))
            elif isinstance(child, ast.ClassDef):
                name = ".".join((*path, child.name))
                if name not in found:
                    first = child.decorator_list[0] if child.decorator_list else child
                    found[name] = first.lineno - 1
                walk(child, (*path, child.name))
            else:
                walk(child, path)

    walk(ast.parse(source), ())
    return found


@contextmanager
def quick_class_sources() -> Iterator[None]:
    """Within the block, `inspect.findsource` finds classes with one walk per module."""
    standard = inspect.findsource
    modules: dict[str, dict[str, int]] = {}

    def findsource(obj: Any) -> tuple[list[str], int]:
        if inspect.isclass(obj):
            file = inspect.getsourcefile(obj)
            if file:
                linecache.checkcache(file)
                module = inspect.getmodule(obj, file)
                lines = linecache.getlines(file, module.__dict__) if module else linecache.getlines(file)
                if lines:
                    source = "".join(lines)
                    if source not in modules:
                        modules[source] = class_lines(source)
                    line = modules[source].get(obj.__qualname__)
                    if line is not None:
                        return lines, line
        return standard(obj)

    inspect.findsource = findsource  # type: ignore[assignment]  # takes what the standard one takes
    try:
        yield
    finally:
        inspect.findsource = standard


@contextmanager
def quick_cdk_import() -> Iterator[None]:
    """Within the block, importing the CDK costs less (see the module's text)."""
    with quick_class_sources(), serializer_schemas_on_demand():
        yield


class SchemaToBuild:
    """What a serpyco_rs Serializer holds in place of its JSON schema until asked for it."""

    __slots__ = ("type_info",)

    def __init__(self, type_info: Any) -> None:
        self.type_info = type_info


# Set on the Serializer's `get_json_schema` once it builds a schema held back.
_BUILDS_HELD_BACK: Final = "_source_sentry_builds_held_back"


@contextmanager
def serializer_schemas_on_demand() -> Iterator[None]:
    """Within the block, a serpyco_rs Serializer made builds its JSON schema when first asked for it
    (`get_json_schema()`) instead of when made. Where serpyco_rs does not make and answer its schema
    the way this knows (`_schema`, set in the constructor from the module's `get_json_schema`),
    nothing changes."""
    try:
        from serpyco_rs import _main as imported
    except ImportError:
        yield
        return
    _main: Any = imported  # its names are set below, which its types do not allow
    serializer = getattr(_main, "Serializer", None)
    build = getattr(_main, "get_json_schema", None)
    if serializer is None or not callable(build) or not _keeps_schema_made_in_constructor(serializer):
        yield
        return
    _answer_schemas_held_back(serializer, build)
    _main.get_json_schema = SchemaToBuild
    try:
        yield
    finally:
        _main.get_json_schema = build


def _keeps_schema_made_in_constructor(serializer: type) -> bool:
    """Whether `serializer` sets `_schema` from `get_json_schema` when made and answers
    `get_json_schema()` with it alone."""
    answer = serializer.__dict__.get("get_json_schema")
    if getattr(answer, _BUILDS_HELD_BACK, False):
        answer = answer.__wrapped__  # type: ignore[union-attr]  # ours, made below
    answer_code = getattr(answer, "__code__", None)
    made_code = getattr(serializer.__dict__.get("__init__"), "__code__", None)
    if answer_code is None or made_code is None:
        return False
    return answer_code.co_names == ("_schema",) and {"get_json_schema", "_schema"} <= set(made_code.co_names)


def _answer_schemas_held_back(serializer: type, build: Callable[[Any], Any]) -> None:
    """Make `serializer.get_json_schema()` build a schema held back (once; kept after)."""
    standard = serializer.get_json_schema  # type: ignore[attr-defined]
    if getattr(standard, _BUILDS_HELD_BACK, False):
        return

    def get_json_schema(self: Any) -> Any:
        held = getattr(self, "_schema", None)
        if type(held) is SchemaToBuild:
            self._schema = build(held.type_info)
        return standard(self)

    functools.update_wrapper(get_json_schema, standard)
    setattr(get_json_schema, _BUILDS_HELD_BACK, True)
    serializer.get_json_schema = get_json_schema  # type: ignore[attr-defined]

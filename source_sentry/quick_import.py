"""Importing the CDK faster, with the same result.

Importing `airbyte_cdk` builds the serializers of the Airbyte protocol's classes (serpyco_rs), which
read each class's source for its attributes' docstrings (attributes_doc, through
`inspect.getsource`). On Python before 3.13, `inspect.findsource` finds a class by parsing its
whole module and walking the tree, once for each class asked about: some 110 classes of the
protocol's long module, about a third of the CDK's import time (0.45 s of CPU of 1.4).

While the CDK is imported, `inspect.findsource` answers classes from one walk of each module,
which finds the same line as the standard library's walk (the first class, in the same order,
whose dotted path of classes and `<locals>` of functions is the class's qualified name); anything
else, and a class not found so, goes to the standard library's function. It is put back after.
"""

from __future__ import annotations

import ast
import inspect
import linecache
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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

"""Importing the CDK with quick_import finds every class's source where the standard library does."""

from __future__ import annotations

import inspect
import sys
import textwrap
import types

import airbyte_cdk.models.airbyte_protocol as protocol
import airbyte_protocol.models.airbyte_protocol as protocol_dataclasses
import pytest

from source_sentry.quick_import import class_lines, quick_class_sources

NESTED = textwrap.dedent(
    """
    import dataclasses

    class Outer:
        class Inner:
            pass

    Inner = Outer.Inner

    def make():
        class Local:
            pass
        return Local

    @dataclasses.dataclass
    class Decorated:
        x: int = 0

    if True:
        class Outer:  # a second class of the same name: the first one is the one found
            pass
    """
)


def test_given_nested_local_decorated_and_repeated_classes_when_walked_then_lines_are_standard() -> None:
    module = types.ModuleType("quick_import_sample")
    module.__file__ = "<quick_import_sample>"
    sys.modules[module.__name__] = module
    try:
        exec(compile(NESTED, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the sample above
        import linecache

        linecache.cache[module.__file__] = (len(NESTED), None, NESTED.splitlines(True), module.__file__)
        classes = [module.Outer, module.Inner, module.make(), module.Decorated]
        lines = class_lines(NESTED)
        for cls in classes:
            assert lines[cls.__qualname__] == inspect.findsource(cls)[1]
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize("module", [protocol, protocol_dataclasses], ids=["cdk", "protocol"])
def test_given_the_protocol_classes_when_their_source_is_read_quickly_then_it_is_the_standard_source(
    module: types.ModuleType,
) -> None:
    classes = [c for c in vars(module).values() if inspect.isclass(c)]
    assert len(classes) > 20
    standard = {c: inspect.getsource(c) for c in classes if _has_source(c)}
    with quick_class_sources():
        quick = {c: inspect.getsource(c) for c in standard}
    assert quick == standard
    assert inspect.findsource.__module__ == "inspect"


def _has_source(cls: type) -> bool:
    try:
        inspect.getsource(cls)
    except (OSError, TypeError):
        return False
    return True

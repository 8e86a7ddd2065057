"""Importing the CDK with quick_import finds every class's source where the standard library does,
and its serializers answer the JSON schemas they answer when imported plainly."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
import types

import airbyte_cdk.models.airbyte_protocol as protocol
import airbyte_protocol_dataclasses.models.airbyte_protocol as protocol_dataclasses
import pytest

from source_sentry.packaged.quick_import import class_lines, quick_class_sources, serializer_schemas_on_demand

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


# Imports the CDK in a fresh interpreter (this one has imported it already), plainly or under
# quick_cdk_import, and prints what each protocol serializer held before its schema was asked
# for, then the schemas it answers.
IMPORT_AND_DUMP = textwrap.dedent(
    """
    import json, sys
    from contextlib import nullcontext
    from source_sentry.packaged.quick_import import quick_cdk_import

    with quick_cdk_import() if sys.argv[1] == "quick" else nullcontext():
        from airbyte_cdk.models import airbyte_protocol_serializers as serializers
    from serpyco_rs import Serializer

    found = {n: s for n, s in vars(serializers).items() if isinstance(s, Serializer)}
    held = {n: type(s._schema).__name__ for n, s in found.items()}
    schemas = {n: s.get_json_schema() for n, s in found.items()}
    asked_again = {n: s.get_json_schema() is schemas[n] for n, s in found.items()}
    made_after = type(Serializer(int)._schema).__name__
    print(json.dumps({"held": held, "schemas": schemas, "again": asked_again, "after": made_after}))
    """
)


def _import_and_dump(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_DUMP, mode], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_given_cdk_imported_quickly_when_serializers_asked_for_schemas_then_they_are_the_plain_ones() -> None:
    plain, quick = _import_and_dump("plain"), _import_and_dump("quick")

    assert len(plain["schemas"]) >= 8
    assert quick["schemas"] == plain["schemas"]
    # Held back while the CDK was imported, built once when asked, and made as usual after.
    assert set(quick["held"].values()) == {"SchemaToBuild"}
    assert set(plain["held"].values()) == {"dict"}
    assert all(quick["again"].values())
    assert quick["after"] == plain["after"] == "dict"


def test_given_a_serializer_unlike_the_one_known_when_imported_quickly_then_it_is_left_as_it_is() -> None:
    from serpyco_rs import _main

    class Other:
        """A serializer whose schema is not made in its constructor."""

        def __init__(self) -> None:
            self.made = True

        def get_json_schema(self) -> dict:
            return {"type": "integer"}

    known = _main.Serializer, _main.get_json_schema
    _main.Serializer = Other  # type: ignore[misc,assignment]
    try:
        with serializer_schemas_on_demand():
            assert _main.get_json_schema is known[1]
        assert Other.get_json_schema(Other()) == {"type": "integer"}
    finally:
        _main.Serializer = known[0]  # type: ignore[misc]
    with serializer_schemas_on_demand():
        assert _main.get_json_schema is not known[1]
    assert _main.get_json_schema is known[1]

"""The connector's spec, and a config checked against it in words that quote no config value."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any


@cache
def connection_specification() -> dict[str, Any]:
    import yaml

    manifest = yaml.safe_load((Path(__file__).parent / "manifest.yaml").read_text())
    return manifest["spec"]["connection_specification"]


def config_problems(config: dict[str, Any], spec: dict[str, Any] | None = None) -> list[str]:
    """The ways `config` breaks the connector's spec, described without any value from the config:
    jsonschema's own messages quote the offending value, or the whole config for a missing
    field, and that would print the token."""
    import jsonschema

    spec = spec or connection_specification()
    problems = []
    validator = jsonschema.validators.validator_for(spec)(spec)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        field = ".".join(map(str, error.absolute_path)) or "(top level)"
        rule = error.validator
        if rule == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            problems.extend(f"`{name}` is missing (it is required)" for name in missing)
            continue
        schema = error.schema if isinstance(error.schema, dict) else {}
        if rule == "type":
            what = f"must be of type {error.validator_value}"
        elif rule == "pattern":
            examples = schema.get("pattern_descriptor") or ", ".join(map(str, schema.get("examples", [])))
            what = "is not in the expected form" + (f" (for example {examples})" if examples else "")
        elif rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            what = f"is out of range ({rule} {error.validator_value})"
        elif rule == "enum":
            what = f"must be one of {error.validator_value}"
        else:
            what = f"breaks the rule `{rule}`"
        problems.append(f"`{field}` {what}")
    return problems

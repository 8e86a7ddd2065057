"""docs/sentry.md against the code: the config table against the spec, the streams table against
the manifest's streams, the changelog against pyproject's version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from source_sentry.manifest import conditional_stream_names, load_manifest, stream_names

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "sentry.md").read_text()
MANIFEST = load_manifest()
SPEC = MANIFEST["spec"]["connection_specification"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def table_under(heading: str, page: str = PAGE) -> list[dict[str, str]]:
    """The first Markdown table after the heading line `heading`, as one dict per row."""
    lines = page.splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, f"no table under {heading!r}"
    header, _rule, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def code(cell: str) -> str:
    """The first `code` span of a cell, or '' when it has none."""
    match = re.search(r"`([^`]*)`", cell)
    return match.group(1) if match else ""


def manifest_streams() -> dict[str, dict]:
    return {
        name: MANIFEST["definitions"]["streams"][name]
        for name in (*stream_names(), *conditional_stream_names())
    }


CONFIG_ROWS = {code(row["field"]): row for row in table_under("### Configuration")}
STREAM_ROWS = {code(row["stream"]): row for row in table_under("## Supported streams")}


@pytest.mark.parametrize("field", sorted(SPEC["properties"]))
def test_given_spec_property_then_the_config_table_documents_it_with_its_title_and_requirement(
    field: str,
) -> None:
    assert field in CONFIG_ROWS, f"docs/sentry.md: `{field}` is missing from the configuration table"
    row = CONFIG_ROWS[field]
    prop = SPEC["properties"][field]
    assert row["title in Airbyte"] == prop["title"]
    assert row["required"] == ("yes" if field in SPEC["required"] else "no")
    if "default" in prop:
        assert str(prop["default"]) in row["default"]


def test_given_config_table_then_it_names_no_field_the_spec_lacks() -> None:
    assert sorted(CONFIG_ROWS) == sorted(SPEC["properties"])


@pytest.mark.parametrize("name", sorted(manifest_streams()))
def test_given_manifest_stream_then_the_streams_table_has_its_key_cursor_and_modes(name: str) -> None:
    stream = manifest_streams()[name]
    assert name in STREAM_ROWS, f"docs/sentry.md: stream `{name}` is missing from the streams table"
    row = STREAM_ROWS[name]
    key = stream["primary_key"]
    assert code(row["primary key"]) == (key if isinstance(key, str) else ", ".join(key))
    cursor = (stream.get("incremental_sync") or {}).get("cursor_field", "")
    assert code(row["cursor field"]) == cursor
    modes = {mode.strip() for mode in row["sync modes"].split(",")}
    assert modes == ({"full refresh", "incremental"} if cursor else {"full refresh"})


def test_given_streams_table_then_it_names_no_stream_the_manifest_lacks() -> None:
    assert sorted(STREAM_ROWS) == sorted(manifest_streams())


def test_given_changelog_then_its_top_version_is_pyprojects_version() -> None:
    top = table_under("## Changelog")[0]
    assert top["version"] == VERSION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", top["date"])


def test_given_page_then_it_links_only_to_files_that_exist() -> None:
    for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", PAGE):
        assert (ROOT / "docs" / target).resolve().exists(), target


def test_given_page_then_every_in_page_link_names_a_heading() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in PAGE.splitlines()
        if line.startswith("#")
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", PAGE):
        assert anchor in anchors, anchor

"""docs/benchmarks.md's "Figures behind the code" against the code whose comments point to it: the
figures are written once, in tools/bench/note.md, which a full `make bench` copies into the page."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADING = "### Figures behind the code"
POINTER = '"Figures behind the code"'


def _section(text: str) -> str:
    start = text.index(HEADING)
    end = text.find("\n#", start + len(HEADING))
    return text[start : end if end != -1 else None]


def _pointing_files() -> list[str]:
    files = [*(ROOT / "source_sentry").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]
    return sorted(str(f.relative_to(ROOT)) for f in files if POINTER in f.read_text())


def test_given_code_pointing_to_the_figures_then_the_note_lists_each_file() -> None:
    section = _section((ROOT / "tools" / "bench" / "note.md").read_text())
    pointing = _pointing_files()
    assert pointing, "no module points to the figures any more: drop the section or the test"
    assert [f for f in pointing if f"`{f}`" not in section] == []


def test_given_the_note_then_the_page_holds_its_figures_as_written() -> None:
    note = _section((ROOT / "tools" / "bench" / "note.md").read_text())
    page = _section((ROOT / "docs" / "benchmarks.md").read_text())
    assert page.strip() == note.strip()

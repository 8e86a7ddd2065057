"""The locks (requirements/*.lock, written by `make lock`) pin every dependency pyproject.toml
declares, and the CDK and serpyco_rs versions they pin are ones the wing's door accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from source_sentry.packaged.door import TESTED

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", re.MULTILINE)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in PIN.findall(text)}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_given_pyproject_when_locks_are_read_then_every_declared_dependency_is_pinned() -> None:
    project = _project()
    runtime = {_name(r) for r in project["dependencies"]}
    everything = runtime | {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    unpinned = sorted(everything - set(_pins("dev.lock"))) + sorted(runtime - set(_pins("runtime.lock")))
    assert unpinned == [], f"not in the locks: {unpinned}; run `make lock` and commit requirements/"


def test_given_locks_when_read_then_runtime_pins_equal_the_dev_pins() -> None:
    dev = _pins("dev.lock")
    differing = {name: (version, dev.get(name)) for name, version in _pins("runtime.lock").items()}
    assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}


def test_given_locked_versions_when_the_door_is_asked_then_it_accepts_them() -> None:
    pins = _pins("runtime.lock")
    outside = {name: pins.get(name) for name, tested in TESTED.items() if pins.get(name) not in tested}
    assert outside == {}, "the lock pins a version the door refuses: test it, then add it to door.TESTED"

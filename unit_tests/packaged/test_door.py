"""The door hands out the wing only on the versions its tests ran on."""

from __future__ import annotations

import pytest

from source_sentry.packaged import door

TESTED_VERSIONS = {
    "python": sorted(door.TESTED_PYTHONS)[0],
    **{name: sorted(versions)[0] for name, versions in door.TESTED.items()},
}


def test_given_tested_versions_when_asked_then_packaged_connector() -> None:
    assert door.untested(TESTED_VERSIONS) == []
    assert isinstance(door.connector_for(TESTED_VERSIONS), door.PackagedConnector)


def test_given_installed_versions_when_asked_then_they_are_the_tested_ones() -> None:
    """The suite runs on a tested set, or the wing's tests would prove nothing the door relies on."""
    assert door.untested(door.installed_versions()) == []


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"airbyte-cdk": "7.999.0"}, "airbyte-cdk 7.999.0"),
        ({"serpyco-rs": ""}, "serpyco-rs (not installed)"),
        ({"python": "3.13"}, "Python 3.13"),
    ],
)
def test_given_one_version_outside_the_set_when_asked_then_plain_connector_names_it(
    changed: dict[str, str], named: str
) -> None:
    versions = {**TESTED_VERSIONS, **changed}
    assert door.untested(versions) == [named]
    chosen = door.connector_for(versions)
    assert isinstance(chosen, door.PlainConnector)
    assert chosen.reason == f"the packaged connector's speed-ups were not tested on {named}"


def test_given_shut_off_set_when_asked_then_plain_connector_whatever_the_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(door.SHUT_OFF, "1")
    door.connector.cache_clear()
    try:
        chosen = door.connector()
        assert isinstance(chosen, door.PlainConnector)
        assert chosen.reason == f"{door.SHUT_OFF} is set"
    finally:
        door.connector.cache_clear()

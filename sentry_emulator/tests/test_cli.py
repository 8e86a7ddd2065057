"""The command line and the connector config: what a program asks for is what the emulator runs."""

from __future__ import annotations

import inspect

import pytest

from sentry_emulator import Emulator
from sentry_emulator.cli import OPTIONS, args_for, settings_from_args
from sentry_emulator.process import EmulatorProcess

EMULATOR_DEFAULTS = {
    name: p.default for name, p in inspect.signature(Emulator).parameters.items() if p.default is not p.empty
}


def test_no_arguments_mean_the_emulator_defaults():
    assert settings_from_args([]) == {k: EMULATOR_DEFAULTS[k] for k in settings_from_args([])}
    assert set(settings_from_args([])) == {o.setting for o in OPTIONS} | {"rate_limits", "tls"}


@pytest.mark.parametrize(
    "settings",
    [
        {"seed": 7, "projects": 2, "events": 1000, "issues": 50, "releases": 3, "rate_limits": "none"},
        {"org": "globex", "span_days": 2.5, "short_pages": 0, "faults": "events:429x3", "tls": True},
        {"rate_limits": {"events": (5, 2.0), "issues": (10, 1.5, 2)}, "host": "127.0.0.1", "port": 0},
    ],
)
def test_args_for_settings_parse_back_to_the_same_settings(settings):
    argv = args_for(**settings)

    assert settings_from_args(argv) == {**settings_from_args([]), **settings}


def test_args_for_is_the_exact_command_line():
    argv = args_for(seed=1, events=3000, rate_limits={"events": (5, 2.0, 1)}, tls=True)

    assert argv == ["--seed", "1", "--events", "3000", "--rate-limits", "sentry"] + [
        "--rate-limit",
        "events=5/2.0/1",
        "--tls",
    ]


def test_a_setting_the_command_line_cannot_carry_is_refused():
    with pytest.raises(TypeError, match="anchor_us"):
        args_for(seed=1, anchor_us=0)


def test_event_offset_limit_is_carried_by_the_command_line():
    argv = args_for(event_offset_limit=10_000)

    assert argv == ["--event-offset-limit", "10000"]
    assert settings_from_args(argv)["event_offset_limit"] == 10_000


def test_rate_limit_override_without_sentry_limits_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        settings_from_args(["--rate-limits", "none", "--rate-limit", "events=5/2"])

    assert exit_info.value.code == 2
    assert "--rate-limit needs --rate-limits sentry" in capsys.readouterr().err


def test_config_is_the_connector_config_of_this_emulator_with_overrides(emulator):
    assert emulator.config() == {
        "auth_token": emulator.token,
        "organization": "acme",
        "hostname": emulator.base_url,
        "settle_seconds": 0,
    }
    assert emulator.config(auth_token="other", projects=["billing"], settle_seconds=30) == {
        "auth_token": "other",
        "organization": "acme",
        "hostname": emulator.base_url,
        "settle_seconds": 30,
        "projects": ["billing"],
    }


def test_child_process_config_matches_its_start_up_line():
    with EmulatorProcess(args_for(seed=3, events=20, issues=2, releases=1, org="globex")) as emu:
        assert emu.config(num_workers=2) == {
            "auth_token": emu.info["token"],
            "organization": "globex",
            "hostname": emu.info["base_url"],
            "settle_seconds": 0,
            "num_workers": 2,
        }

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from source_sentry import sentry_api
from source_sentry.notify import cli
from source_sentry.notify.commits import CI_NAMES
from source_sentry.notify.settings import ENV_NAMES
from unit_tests.conftest import FakeClock
from unit_tests.fake_sentry import FakeSentry

TOKEN = "sntryu_notify_unit_test_token_8b1e"
ORG = "acme"
HOST = "sentry.example.com"
BASE = f"https://{HOST}/api/0"
NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
NOW_EPOCH = NOW.timestamp()


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Sentry setting, nor a CI system's checkout, of the machine running the tests may leak in."""
    wanted = {name for names in ENV_NAMES.values() for name in names} | CI_NAMES
    for name in list(os.environ):
        if name.upper() in wanted:
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def outside_git(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Run where no git work tree is, so the default --commits is skip (tests of commits
    make their own repository)."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(NOW_EPOCH)
    monkeypatch.setattr(sentry_api, "_sleep", fake.sleep)
    monkeypatch.setattr(sentry_api, "_clock", fake.time)
    monkeypatch.setattr(cli, "_utcnow", lambda: NOW)
    return fake


@pytest.fixture
def ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings as a CI job gives them: sentry-cli's environment names."""
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SENTRY_ORG", ORG)
    monkeypatch.setenv("SENTRY_URL", HOST)


@pytest.fixture
def sentry(fake_sentry: FakeSentry) -> FakeSentry:
    """Sentry behind a fake transport: URLs matched exactly (case too), so encoded versions are
    checked as sent; a request no test expected fails the test."""
    return fake_sentry


@pytest.fixture
def healthy_sentry(sentry: FakeSentry) -> FakeSentry:
    """A Sentry where the token may do everything and project ``web`` exists; no writes mocked."""
    sentry.get(f"{BASE}/organizations/{ORG}/", json={"slug": ORG, "id": "1"})
    sentry.get(f"{BASE}/projects/{ORG}/web/", json={"slug": "web", "id": "11"})
    sentry.get(f"{BASE}/projects/{ORG}/api/", json={"slug": "api", "id": "12"})
    sentry.get(f"{BASE}/organizations/{ORG}/releases/", json=[])
    return sentry


def deploy_json(deploy_id: str = "42", **fields: Any) -> dict[str, Any]:
    body = {
        "id": deploy_id,
        "environment": "production",
        "name": None,
        "url": None,
        "dateStarted": None,
        "dateFinished": "2024-05-01T10:00:00.000000Z",
    }
    body.update(fields)
    return body


def release_json(version: str = "1.2.3", projects: tuple[str, ...] = ("web",)) -> dict[str, Any]:
    """Sentry's answer: the release with every project it belongs to."""
    return {"id": 7, "version": version, "dateReleased": None, "projects": [{"slug": p} for p in projects]}


@pytest.fixture
def run_notify(capsys: pytest.CaptureFixture[str]):
    """Run ``source-sentry notify`` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> Outcome:
        code = cli.main(["notify", *args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


def writes(fake: FakeSentry) -> list[Any]:
    return [r for r in fake.request_history if r.method != "GET"]

from __future__ import annotations

import base64
import json

import pytest

from unit_tests.fake_sentry import DROPPED, READ_TIMEOUT
from unit_tests.notify.conftest import BASE, NOW_EPOCH, ORG, TOKEN, deploy_json, release_json, writes

RELEASES = f"{BASE}/organizations/{ORG}/releases/"
RELEASE = f"{RELEASES}1.2.3/"
DEPLOYS = f"{RELEASE}deploys/"
ARGS = ("--release", "1.2.3", "--env", "production", "--project", "web")

pytestmark = pytest.mark.usefixtures("ci_env")


def posts_to(sentry, url: str) -> list:
    return [r for r in sentry.request_history if r.method == "POST" and r.url == url]


def test_given_new_release_when_notifying_then_release_created_and_deploy_recorded(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS, "--name", "build 9", "--url", "https://ci.example.com/9", "--time", "30")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "Release 1.2.3 created (201)",
        "Deploy 42 of 1.2.3 to production recorded",
    ]
    release_post, deploy_post = writes(healthy_sentry)
    assert release_post.json() == {"version": "1.2.3", "projects": ["web"]}
    assert deploy_post.url == DEPLOYS
    assert deploy_post.json() == {
        "environment": "production",
        "projects": ["web"],
        "name": "build 9",
        "url": "https://ci.example.com/9",
        "dateStarted": "2024-05-01T09:59:30Z",
        "dateFinished": "2024-05-01T10:00:00Z",
    }


def test_given_existing_release_when_notifying_then_208_is_success(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=208, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0
    assert "Release 1.2.3 exists (208)" in result.out.splitlines()


def test_given_creation_race_409_when_notifying_then_release_post_retried(healthy_sentry, run_notify):
    healthy_sentry.post(
        RELEASES, [{"status_code": 409, "json": {"detail": "conflict"}}, {"status_code": 208}]
    )
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0
    assert "Release 1.2.3 exists (208)" in result.out
    assert len(posts_to(healthy_sentry, RELEASES)) == 2


def test_given_repeated_409_when_notifying_then_release_fetched_and_deploy_recorded(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=409, json={"detail": "conflict"})
    healthy_sentry.get(RELEASE, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0
    assert "Release 1.2.3 exists (409, fetched)" in result.out
    assert len(posts_to(healthy_sentry, RELEASES)) == 2


def test_given_healthy_sentry_when_notifying_then_two_writes_and_no_read(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0, result.err
    assert [(r.method, r.url) for r in healthy_sentry.request_history] == [
        ("POST", RELEASES),
        ("POST", DEPLOYS),
    ]
    assert result.out.splitlines()[0] == "Checked https://sentry.example.com: organization acme, projects web"


def test_given_existing_release_and_finalize_when_notifying_then_release_put_with_date_released(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=208, json=release_json())
    healthy_sentry.put(RELEASE, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS, "--finalize")
    assert result.code == 0
    assert [r.method for r in writes(healthy_sentry)] == ["POST", "PUT", "POST"]
    assert writes(healthy_sentry)[0].json()["dateReleased"] == "2024-05-01T10:00:00Z"
    assert writes(healthy_sentry)[1].json() == {"dateReleased": "2024-05-01T10:00:00Z"}
    assert "Release 1.2.3 finalized at 2024-05-01T10:00:00Z" in result.out


def test_given_new_release_and_finalize_when_created_with_the_date_then_no_put(healthy_sentry, run_notify):
    created = {**release_json(), "dateReleased": "2024-05-01T10:00:00.000000Z"}
    healthy_sentry.post(RELEASES, status_code=201, json=created)
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS, "--finalize", "--json")
    assert result.code == 0, result.err
    assert [r.method for r in healthy_sentry.request_history] == ["POST", "POST"]
    assert writes(healthy_sentry)[0].json() == {
        "version": "1.2.3",
        "projects": ["web"],
        "dateReleased": "2024-05-01T10:00:00Z",
    }
    assert result.json["finalize"] == {"dateReleased": "2024-05-01T10:00:00Z", "status": 201}


def test_given_finalize_when_created_without_the_date_then_put_follows(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())  # dateReleased: null
    healthy_sentry.put(RELEASE, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS, "--finalize")
    assert result.code == 0, result.err
    assert [r.method for r in writes(healthy_sentry)] == ["POST", "PUT", "POST"]


def test_given_429_then_success_when_notifying_then_waits_exactly_until_reset(
    healthy_sentry, run_notify, clock
):
    reset = int(NOW_EPOCH) + 13
    healthy_sentry.post(
        RELEASES,
        [
            {
                "status_code": 429,
                "json": "Limit is 40 requests in 1 seconds",
                "headers": {"X-Sentry-Rate-Limit-Reset": str(reset), "Content-Type": "text/html"},
            },
            {"status_code": 201, "json": release_json()},
        ],
    )
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0
    assert clock.sleeps == [reset - NOW_EPOCH]
    assert len(posts_to(healthy_sentry, RELEASES)) == 2


def test_given_503_then_success_when_creating_release_then_retried_after_backoff(
    healthy_sentry, run_notify, clock
):
    healthy_sentry.post(RELEASES, [{"status_code": 503, "text": "<h1>503</h1>"}, {"status_code": 201}])
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0
    assert clock.sleeps == [1.0]
    assert len(posts_to(healthy_sentry, RELEASES)) == 2


def test_given_deploy_post_answered_502_but_recorded_when_notifying_then_found_not_resent(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=502, text="<title>502 Bad Gateway</title>")
    healthy_sentry.get(DEPLOYS, json=[deploy_json("41", environment="staging"), deploy_json("42")])
    result = run_notify(*ARGS)
    assert result.code == 0, result.err
    assert len(posts_to(healthy_sentry, DEPLOYS)) == 1
    assert "Deploy 42 of 1.2.3 to production was already recorded" in result.out


def test_given_deploy_post_timed_out_and_not_recorded_when_notifying_then_looked_up_then_resent_once(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, [{"exc": READ_TIMEOUT}, {"status_code": 201, "json": deploy_json()}])
    healthy_sentry.get(DEPLOYS, json=[deploy_json("40", dateFinished="2024-04-30T10:00:00Z")])
    result = run_notify(*ARGS)
    assert result.code == 0
    calls = [(r.method, r.url) for r in healthy_sentry.request_history if r.url == DEPLOYS]
    assert calls == [("POST", DEPLOYS), ("GET", DEPLOYS), ("POST", DEPLOYS)]
    assert "Deploy 42 of 1.2.3 to production recorded" in result.out


def test_given_deploy_post_keeps_failing_ambiguously_when_notifying_then_bounded_and_exit_1(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=504)
    healthy_sentry.get(DEPLOYS, json=[])
    result = run_notify(*ARGS)
    assert result.code == 1
    assert len(posts_to(healthy_sentry, DEPLOYS)) == 3
    assert "answered 504" in result.err


def test_given_500_on_deploy_when_notifying_then_not_retried_and_exit_1(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=500, json={"detail": "Internal Error", "errorId": "e9"})
    result = run_notify(*ARGS)
    assert result.code == 1
    assert len(posts_to(healthy_sentry, DEPLOYS)) == 1
    assert "500: Internal Error (errorId e9)" in result.err


def test_given_dry_run_when_notifying_then_connection_checked_and_nothing_written(healthy_sentry, run_notify):
    result = run_notify(*ARGS, "--dry-run", "--finalize")
    assert result.code == 0
    assert writes(healthy_sentry) == []
    assert healthy_sentry.call_count == 3
    assert f"  POST /api/0/organizations/{ORG}/releases/1.2.3/deploys/ " in result.out
    assert result.out.splitlines()[3].endswith(" (if the release already existed)")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--release", "latest", "--env", "production", "--project", "web"), "reserves"),
        (("--release", "a/b", "--env", "production", "--project", "web"), "slash"),
        (("--release", "1.0", "--project", "web"), "No environment"),
        (("--env", "production", "--project", "web"), "No release version"),
        (("--release", "1.0", "--env", "production"), "No project"),
        ((*ARGS, "--started", "yesterday"), "--started 'yesterday' is not a time"),
        ((*ARGS, "--finished", "now", "--time", "5"), "either --finished or --time"),
        ((*ARGS, "--name", "n" * 65), "deploy name"),
        ((*ARGS, "--bogus"), "unrecognized arguments: --bogus"),
    ],
)
def test_given_bad_input_when_notifying_then_exit_2_and_nothing_sent(sentry, run_notify, args, fragment):
    result = run_notify(*args)
    assert result.code == 2
    assert fragment in result.err
    assert sentry.call_count == 0


def test_given_no_token_anywhere_when_notifying_then_exit_2_naming_env_var(monkeypatch, sentry, run_notify):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN")
    result = run_notify(*ARGS)
    assert (result.code, sentry.call_count) == (2, 0)
    assert "SENTRY_AUTH_TOKEN" in result.err


INVALID_PROJECTS = {"projects": ["Invalid project ids or slugs"]}


@pytest.mark.parametrize(
    ("url", "status", "post_status", "post_body", "fragment"),
    [
        (
            f"{BASE}/organizations/{ORG}/",
            401,
            401,
            {"detail": "nope"},
            "Sentry rejected the auth token (401)",
        ),
        (
            f"{BASE}/organizations/{ORG}/",
            404,
            404,
            {"detail": "nope"},
            "Organization 'acme' was not found on https://sentry.example.com (404)",
        ),
        (f"{BASE}/projects/{ORG}/web/", 404, 400, INVALID_PROJECTS, "Project 'web' was not found"),
        (RELEASES, 403, 403, {"detail": "nope"}, "The auth token may not read the releases of 'acme' (403)"),
    ],
)
def test_given_release_post_refused_when_notifying_then_the_check_routine_names_the_fix(
    healthy_sentry, run_notify, url, status, post_status, post_body, fragment
):
    healthy_sentry.get(url, status_code=status, json={"detail": "nope"})
    healthy_sentry.post(RELEASES, status_code=post_status, json=post_body)
    result = run_notify(*ARGS)
    assert result.code == 1
    assert fragment in result.err
    assert [(r.method, r.url) for r in writes(healthy_sentry)] == [("POST", RELEASES)]
    assert [r.method for r in healthy_sentry.request_history][1:2] == ["GET"]  # the check, after


def test_given_release_post_refused_400_when_notifying_then_exit_1_with_reason(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=400, json={"projects": ["Invalid project ids or slugs"]})
    result = run_notify(*ARGS)
    assert result.code == 1
    assert "(400): projects: Invalid project ids or slugs" in result.err
    assert posts_to(healthy_sentry, DEPLOYS) == []


@pytest.mark.parametrize(
    ("version", "encoded"),
    [
        ("1.2.3+build.7", "1.2.3%2Bbuild.7"),
        ("rel#42", "rel%2342"),
        ("50% ?", "50%25%20%3F"),
        ("v-ü", "v-%C3%BC"),
    ],
)
def test_given_version_with_special_characters_when_notifying_then_deploy_path_encoded(
    healthy_sentry, run_notify, version, encoded
):
    deploys = f"{RELEASES}{encoded}/deploys/"
    healthy_sentry.post(RELEASES, status_code=201)
    healthy_sentry.post(deploys, status_code=201, json=deploy_json())
    result = run_notify("--release", version, "--env", "production", "--project", "web")
    assert result.code == 0, result.err
    assert writes(healthy_sentry)[0].json()["version"] == version
    assert writes(healthy_sentry)[1].url == deploys


def test_given_json_flag_when_notifying_then_one_json_object(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS, "--json")
    assert result.code == 0
    report = result.json
    assert report["ok"] is True
    assert report["release"] == {"version": "1.2.3", "outcome": "exists", "status": 208}
    assert report["deploy"]["id"] == "42"
    assert report["deploy"]["outcome"] == "recorded"


def test_given_json_flag_and_failure_when_notifying_then_json_error_and_exit_code(healthy_sentry, run_notify):
    healthy_sentry.get(f"{BASE}/organizations/{ORG}/", status_code=401, json={"detail": "Invalid token"})
    healthy_sentry.post(RELEASES, status_code=401, json={"detail": "Invalid token"})
    result = run_notify(*ARGS, "--json")
    assert (result.code, result.err) == (1, "")
    assert result.json["ok"] is False
    assert result.json["exit_code"] == 1
    assert "401" in result.json["error"]


@pytest.mark.parametrize("extra", [(), ("--json",), ("--dry-run",)])
def test_given_server_echoing_the_token_when_notifying_then_token_never_printed(
    healthy_sentry, run_notify, extra
):
    healthy_sentry.post(RELEASES, status_code=400, json={"detail": f"bad request from {TOKEN}"})
    result = run_notify(*ARGS, *extra)
    assert TOKEN not in result.out + result.err
    if not extra:
        assert "bad request from [token]" in result.err


def test_given_only_drone_plugin_environment_when_run_without_arguments_then_notifies(
    monkeypatch, healthy_sentry, capsys
):
    from source_sentry.notify.cli import main

    for name in ("SENTRY_AUTH_TOKEN", "SENTRY_ORG", "SENTRY_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("PLUGIN_SENTRY_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("PLUGIN_SENTRY_ORGANIZATION", ORG)
    monkeypatch.setenv("PLUGIN_SENTRY_URL", "https://sentry.example.com")
    monkeypatch.setenv("PLUGIN_SENTRY_PROJECT", "web")
    monkeypatch.setenv("PLUGIN_SENTRY_RELEASE_VERSION", "1.2.3")
    monkeypatch.setenv("PLUGIN_SENTRY_RELEASE_ENVIRONMENT", "production")
    healthy_sentry.post(RELEASES, status_code=201)
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    assert main([]) == 0
    assert "Deploy 42 of 1.2.3 to production recorded" in capsys.readouterr().out


def test_given_release_in_flag_and_environment_when_notifying_then_flag_wins(
    monkeypatch, healthy_sentry, run_notify
):
    monkeypatch.setenv("SENTRY_RELEASE", "9.9.9")
    healthy_sentry.post(RELEASES, status_code=201)
    healthy_sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    assert run_notify(*ARGS).code == 0
    assert writes(healthy_sentry)[0].json()["version"] == "1.2.3"


def test_given_org_token_when_notifying_then_only_the_writes_are_sent(monkeypatch, sentry, run_notify):
    claims = base64.b64encode(json.dumps({"url": "https://sentry.example.com", "org": ORG}).encode()).decode()
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", f"sntrys_{claims}_secret")
    monkeypatch.delenv("SENTRY_ORG")
    monkeypatch.delenv("SENTRY_URL")
    sentry.post(RELEASES, status_code=201)
    sentry.post(DEPLOYS, status_code=201, json=deploy_json())
    result = run_notify(*ARGS)
    assert result.code == 0, result.err
    assert [r.method for r in sentry.request_history] == ["POST", "POST"]


def test_given_deploy_list_not_json_when_looking_for_uncertain_deploy_then_exit_1(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=208)
    healthy_sentry.post(DEPLOYS, status_code=502)
    healthy_sentry.get(DEPLOYS, text=")]}',\n[]")
    result = run_notify(*ARGS)
    assert result.code == 1
    assert "without a JSON list" in result.err
    assert len(posts_to(healthy_sentry, DEPLOYS)) == 1


def test_given_dropped_connections_when_creating_release_then_retried_then_exit_1_without_traceback(
    healthy_sentry, run_notify, clock
):
    healthy_sentry.post(RELEASES, exc=DROPPED)
    result = run_notify(*ARGS)
    assert result.code == 1
    assert result.err == (
        "error: https://sentry.example.com could not be reached (the connection dropped: Remote end closed "
        "connection without response) (POST organizations/acme/releases/, 4 tries).\n"
    )
    assert len(posts_to(healthy_sentry, RELEASES)) == 4  # creating a release is safe to repeat
    assert clock.sleeps == [1.0, 2.0, 4.0]


# GlitchTip's settings, beside /api/0/; Sentry has no such route.
SETTINGS = BASE.removesuffix("/0") + "/settings/"
UNSUPPORTED = (
    "Deploy of 1.2.3 to production not recorded: this server is GlitchTip, which has no deploys "
    "(the release is recorded)"
)


def test_given_403_on_deploy_from_sentry_when_notifying_then_the_scope_is_named(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=403, json={"detail": "You do not have permission."})
    healthy_sentry.get(SETTINGS, status_code=404, json={"detail": "Not found"})

    result = run_notify(*ARGS)

    assert result.code == 1
    assert "give the token the project:releases scope" in result.err
    assert [r.url for r in healthy_sentry.request_history if r.url == SETTINGS] == [SETTINGS]


def test_given_csrf_403_on_deploy_from_glitchtip_when_notifying_then_done_without_a_deploy(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=201, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=403, text="<h1>CSRF verification failed</h1>")
    healthy_sentry.get(SETTINGS, json={"version": "4.2", "iPaidForGlitchTip": False})

    result = run_notify(*ARGS, "--json")

    assert result.code == 0
    assert json.loads(result.out)["deploy"] == {"outcome": "unsupported", "status": 403}


def test_given_500_on_a_repeated_release_and_the_release_found_when_notifying_then_it_exists(
    healthy_sentry, run_notify
):
    healthy_sentry.post(RELEASES, status_code=500, text="<h1>Server Error (500)</h1>")
    healthy_sentry.get(RELEASE, json=release_json())
    healthy_sentry.post(DEPLOYS, status_code=403, text="<h1>CSRF verification failed</h1>")
    healthy_sentry.get(SETTINGS, json={"version": "4.2", "iPaidForGlitchTip": False})

    result = run_notify(*ARGS)

    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == ["Release 1.2.3 exists (500, fetched)", UNSUPPORTED]
    assert len(posts_to(healthy_sentry, RELEASES)) == 1


def test_given_500_on_release_and_no_release_when_notifying_then_exit_1(healthy_sentry, run_notify):
    healthy_sentry.post(RELEASES, status_code=500, json={"detail": "Internal Error", "errorId": "e7"})
    healthy_sentry.get(RELEASE, status_code=404, json={"detail": "The requested resource does not exist"})

    result = run_notify(*ARGS)

    assert result.code == 1
    assert "500: Internal Error (errorId e7)" in result.err
    assert posts_to(healthy_sentry, DEPLOYS) == []

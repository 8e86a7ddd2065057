"""Pure commit building: matching a work tree's remote to Sentry's repositories, the bodies."""

from __future__ import annotations

import pytest

from source_sentry.notify.commits import (
    FIELD,
    RECORD,
    History,
    LocalCommit,
    ci_checkout,
    commits_body,
    match_repository,
    parse_log,
    remote_key,
    repository_name,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def repo(name: str, url: str | None, provider: str = "integrations:github") -> dict:
    return {"name": name, "url": url, "provider": {"id": provider}}


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/Acme/Shop.git",
        "git@github.com:acme/shop.git",
        "ssh://git@github.com:22/acme/shop",
        "git+https://token@github.com/acme/shop/",
    ],
)
def test_given_remote_spellings_of_one_repository_when_matching_then_each_finds_it(remote):
    repos = [
        repo("other", "https://github.com/acme/other"),
        repo("Acme/Shop", "https://github.com/acme/shop"),
    ]
    assert match_repository(remote, repos) == repos[1]


def test_given_same_path_on_another_host_when_matching_then_no_match():
    repos = [repo("acme/shop", "https://github.com/acme/shop")]
    assert match_repository("https://github.example.com/acme/shop", repos) is None


def test_given_repository_known_only_by_name_when_matching_then_it_is_not_used_for_refs():
    assert match_repository("https://github.com/acme/shop", [repo("acme/shop", None, "unknown")]) is None


def test_given_local_path_remote_when_keyed_then_none_and_no_repository_name():
    assert remote_key("file:///srv/git/shop.git") is None
    assert remote_key("/srv/git/shop") is None
    assert repository_name("file:///srv/git/shop.git") is None
    assert repository_name("git@gitlab.com:Group/Shop.git") == "Group/Shop"


def test_given_git_log_output_when_parsed_then_dates_are_utc_and_messages_whole():
    fields = (SHA, "Ada", "ada@example.com", "2024-01-04T12:00:00+02:00", "Fix cart\n\nFixes SHOP-1\n")
    text = FIELD.join(fields) + RECORD + "\n"
    assert parse_log(text) == [
        LocalCommit(SHA, "Ada", "ada@example.com", "2024-01-04T10:00:00Z", "Fix cart\n\nFixes SHOP-1")
    ]


def test_given_history_when_building_body_then_newest_first_with_repository_only_when_known():
    history = History([LocalCommit(SHA, "Ada", "ada@example.com", "2024-01-04T10:00:00Z", "Fix")], "first", 1)
    assert commits_body(history, None) == {
        "commits": [
            {"id": SHA, "author_name": "Ada", "author_email": "ada@example.com", "message": "Fix",
             "timestamp": "2024-01-04T10:00:00Z"}
        ]
    }  # fmt: skip
    assert commits_body(history, "acme/shop")["commits"][0]["repository"] == "acme/shop"


def test_given_ci_variables_when_reading_checkout_then_sha_and_url_or_nothing():
    github = {"GITHUB_SHA": SHA, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop"}
    assert ci_checkout(github) == (SHA, "https://github.com/acme/shop")
    assert ci_checkout({"CI_COMMIT_SHA": SHA, "CI_PROJECT_URL": "https://gitlab.com/g/shop"}) == (
        SHA,
        "https://gitlab.com/g/shop",
    )
    assert ci_checkout({"CI_COMMIT_SHA": "not-a-sha", "CI_PROJECT_URL": "https://gitlab.com/g/shop"}) is None
    assert ci_checkout({"GITHUB_SHA": SHA}) is None

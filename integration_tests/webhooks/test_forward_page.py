"""The forwarding status page in a real browser (Debian's headless Chromium): the admin token
typed into the login form gives an HttpOnly session cookie; the page shows each target's counts
and its failures; the replay button sends a dead delivery again."""

from __future__ import annotations

import time

import pytest

from integration_tests.webhooks.test_forward_e2e import ADMIN_TOKEN, status_json
from integration_tests.webhooks.test_forward_outbox import hook, post_issues
from tools.browser import BrowserMissing, chromium
from tools.forward_target import Behaviour, ForwardTarget
from tools.receiver import ReceiverProcess


@pytest.fixture
def browser():
    try:
        with chromium() as running:
            yield running
    except BrowserMissing as missing:
        pytest.fail(str(missing), pytrace=False)


def test_given_a_dead_delivery_when_the_admin_logs_in_and_presses_replay_then_it_is_sent(browser, tmp_path):
    from selenium.webdriver.common.by import By

    with ForwardTarget() as target:
        target.plan(Behaviour(500), Behaviour(500))
        settings = {
            "forward": [hook(target, "catalog")],
            "forward_retry_seconds": [0.05],
            "forward_poll_seconds": 0.05,
            "admin_token": ADMIN_TOKEN,
        }
        with ReceiverProcess(tmp_path, str(tmp_path / "d.sqlite3"), **settings) as receiver:
            post_issues(receiver, "page", 1)
            deadline = time.monotonic() + 60
            while status_json(receiver)["targets"][0]["counts"]["dead"] != 1 and time.monotonic() < deadline:
                time.sleep(0.05)

            browser.get(f"{receiver.base_url}/forward/")
            assert browser.current_url.endswith("/forward/login")
            browser.find_element(By.ID, "token").send_keys("not-the-admin-token")
            browser.find_element(By.ID, "login").click()
            assert browser.find_element(By.ID, "failed").text == "That is not the admin token."
            assert browser.get_cookies() == []

            browser.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
            browser.find_element(By.ID, "login").click()
            browser.find_element(By.ID, "targets")  # the status page, once the login's redirect is followed
            [cookie] = browser.get_cookies()
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Strict"
            assert ADMIN_TOKEN not in cookie["value"]
            cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#target-catalog td")]
            assert cells[:8] == ["catalog", "webhook", "", "0", "0", "0", "1", "0"]
            failure = browser.find_element(By.CSS_SELECTOR, "#failures tr.dead").text
            assert "HTTP 500" in failure
            assert "issue.created" in failure
            assert str(target.port) not in browser.page_source

            browser.find_element(By.CSS_SELECTOR, "#failures tr.dead button").click()
            assert browser.find_element(By.ID, "replayed").text == "Replayed 1 dead deliveries."
            [sent] = [r for r in target.wait_for(1, timeout=60) if r.accepted]
            assert len(target.requests()) == 3
            assert {r.webhook_id for r in target.requests()} == {sent.webhook_id}

"""The dashboard when the daemon does not answer, in a real browser against a real daemon stopped and started under
the open page: every button says in the page's notice what it could not do and why (no unhandled rejection in
the console), its control stays on what the page shows, and the page carries on once the daemon answers again. A
login link opened while the daemon restarts is tried again until the daemon answers, then logs in."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.agents.daemon_helper import wait_for

from .conftest import Page

pytestmark = pytest.mark.slow

UNANSWERED = "The daemon does not answer"


def _notice(page: Page, text: str) -> str:
    return page.wait_css("#notice", text).text


def _add_runs(daemon, job_id: str, count: int) -> None:
    """``count`` finished runs of the job, an hour apart (enough for a second page of its history)."""
    now = int(daemon.query("SELECT CAST(strftime('%s','now') AS INTEGER)")[0][0]) * 1000
    conn = daemon.db()
    try:
        with conn:
            conn.executemany(
                "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, attempt, started_at, finished_at,"
                " execution_time_ms, exit_code, output, created_at, updated_at)"
                " VALUES (?, ?, 'schedule', 'succeeded', ?, 1, ?, ?, 1000, 0, 'ok', ?, ?)",
                [
                    (str(uuid.uuid4()), job_id, t, t, t + 1000, t, t + 1000)
                    for t in (now - k * 3_600_000 for k in range(1, count + 1))
                ],
            )
    finally:
        conn.close()


def test_every_control_says_what_it_could_not_do_while_the_daemon_is_stopped(daemon, browser, tmp_path) -> None:
    from selenium.webdriver.support.ui import Select

    page = Page(browser, tmp_path)
    job_id = daemon.query("SELECT id FROM jobs WHERE name = 'nightly-report'")[0][0]
    _add_runs(daemon, job_id, 25)
    browser.get(json.loads(daemon.symbi("ui", "--format", "json", check=True).stdout)["url"])
    page.wait_css("#jobs tbody tr")
    # Each page opened once while the daemon answers (a page's script is fetched the first time it is shown).
    page.go("#/usage", "#usage-chart svg")
    page.go("#/timeline", "#timeline svg")
    page.go(f"#/jobs/{job_id}", "#runs tbody tr")
    first_runs = page.texts("#runs tbody tr")
    assert len(first_runs) == 20
    daemon.symbi("cron", "daemon", "stop", check=True)

    # The history's pager: the notice says which page could not be read, the table and the pager stay.
    page.click(".pager button", "Older")
    assert UNANSWERED in _notice(page, "Could not show the older runs")
    assert page.texts("#runs tbody tr") == first_runs

    # The usage's range: the selector goes back to the days the chart shows.
    page.go("#/usage", "#usage-days")
    Select(page.wait_css("#usage-days")).select_by_value("30")
    assert UNANSWERED in _notice(page, "Could not show the last 30 days")
    assert browser.execute_script("return document.getElementById('usage-days').value") == "14"

    # The timeline's window, the same.
    page.go("#/timeline", "#timeline-window")
    Select(page.wait_css("#timeline-window")).select_by_value("168")
    assert UNANSWERED in _notice(page, "Could not show the last 7 days")
    assert browser.execute_script("return document.getElementById('timeline-window').value") == "24"

    # Logging out needs the daemon: the page says it could not, and stays logged in.
    page.click("#logout")
    assert UNANSWERED in _notice(page, "Could not log out")
    assert not page.css(".login")
    assert page.uncaught() == []  # the refused requests only: no unhandled rejection, no script error

    # The daemon answers again: the notice goes and the page is read again, then logging out works.
    daemon.start()
    wait_for(lambda: browser.execute_script("return document.getElementById('notice').hidden"), what="no notice")
    page.wait_css("#timeline svg")
    page.click("#logout")
    page.wait_css(".login", "You logged out.")
    assert not daemon.query("SELECT 1 FROM dashboard_sessions WHERE kind = 'session'")
    assert page.uncaught() == []


def test_a_login_link_opened_while_the_daemon_restarts_logs_in_once_it_answers(daemon, browser, tmp_path) -> None:
    page = Page(browser, tmp_path)
    link = json.loads(daemon.symbi("ui", "--format", "json", check=True).stdout)
    address, fragment = link["url"].split("#", 1)
    browser.get(address)  # the dashboard's page, not logged in
    page.wait_css(".login", "Log in")
    daemon.symbi("cron", "daemon", "stop", check=True)

    # The link is opened in that tab while the daemon is down: the page says it waits, the token leaves the bar.
    browser.execute_script("location.hash = arguments[0]", f"#{fragment}")
    assert "trying again" in _notice(page, UNANSWERED)
    assert "login=" not in browser.current_url
    daemon.start()
    page.wait_css("#jobs tbody tr")
    page.wait_css("#who", link["identity"])
    wait_for(lambda: browser.execute_script("return document.getElementById('notice').hidden"), what="no notice")
    assert page.uncaught() == []
    # The link worked, once: opened again it says what to do.
    browser.execute_script("location.hash = arguments[0]", f"#{fragment}")
    assert "run `symbi ui` for a new one" in _notice(page, "login link is used")

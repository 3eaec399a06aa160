"""The dashboard in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by
``.ci/system-packages``) driven by selenium against a real daemon. The test logs in with the link ``symbi ui``
prints, finds a job, pauses and resumes it, runs it and sees its output arrive while it runs, approves a pending
run, renders names and output full of markup as text, and fails on any error in the browser's console. It saves
a screenshot of every page (``SYMBI_SCREENSHOTS=DIR`` keeps them there: docs/dashboard.md shows them)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.agents.daemon_helper import wait_for

from .conftest import JS_NAME, XSS_NAME, XSS_OUTPUT, Page

pytestmark = pytest.mark.slow


def test_the_dashboard_in_a_real_browser(daemon, browser, tmp_path) -> None:
    shots = Path(os.environ.get("SYMBI_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    page = Page(browser, shots)
    link = json.loads(daemon.symbi("ui", "--format", "json", check=True).stdout)
    key = (daemon.home / "api.key").read_text().strip()

    # Log in: the link's one-time token becomes an HttpOnly, SameSite=Strict cookie and leaves the address bar.
    browser.get(link["url"])
    page.wait_css("#jobs tbody tr")
    paint = browser.execute_script(
        "const m = performance.getEntriesByName('symbi-first-data')[0];"
        "const p = performance.getEntriesByName('first-contentful-paint')[0];"
        "return [p ? p.startTime : null, m ? m.startTime : null];"
    )
    assert paint[0] is not None and paint[0] < 1000, f"first contentful paint after {paint[0]} ms"
    assert paint[1] is not None and paint[1] < 1000, f"the jobs page with its data after {paint[1]} ms"
    assert "login=" not in browser.current_url
    cookies = browser.get_cookies()
    assert [(c["httpOnly"], c.get("sameSite")) for c in cookies] == [(True, "Strict")]
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: the page's scripts cannot read it
    stored = browser.execute_script("return JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])")
    assert stored == "[[],[]]"
    assert key not in browser.page_source
    # The link worked once.
    browser.get(link["url"])
    page.wait_css(".notice, .login", "login link is used")
    page.console()
    assert any("403" in e for e in page.errors), page.errors  # the refused second use, nothing else
    page.errors.clear()
    browser.get(json.loads(daemon.symbi("ui", "--format", "json", check=True).stdout)["url"])
    page.wait_css("#jobs tbody tr")

    # Names are text, never markup or a link target.
    names = wait_for(lambda: page.texts("#jobs td.name a"), what="the jobs' names")  # rows first, then names
    assert XSS_NAME in names and JS_NAME in names
    assert browser.execute_script("return document.scripts.length") == 1
    hrefs = browser.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
    assert all(h.startswith("#/") for h in hrefs), hrefs
    page.no_alert()
    page.shot("jobs")

    # Find a job with the name filter (the server filters).
    box = page.wait_css("#filter-name")
    box.send_keys("nightly")
    wait_for(lambda: page.texts("#jobs td.name a") == ["nightly-report"], what="the filtered list")
    page.click("#jobs td.name a", "nightly-report")
    page.wait_css("h1", "nightly-report")
    page.wait_css("#fire-times li")

    # Pause, resume, run it; the output arrives while it runs.
    page.click("button[data-action=pause]")
    page.wait_css("h1", "paused")
    assert daemon.query("SELECT status FROM jobs WHERE name = 'nightly-report'")[0][0] == "paused"
    assert daemon.query("SELECT actor FROM audit WHERE type = 'CronJobPaused'")[0][0].startswith("ui:")
    page.click("button[data-action=resume]")
    page.wait_css("h1", "active")
    page.click("button[data-action=run]")
    page.wait_css("#run h2", "live")
    page.wait_css("#run-output", "first line", timeout=30)
    assert "second line" not in page.texts("#run-output")[0]  # it arrived before the run ended
    page.wait_css("#run-output", "second line", timeout=30)
    page.wait_css("#run h2 .badge", "succeeded")
    assert XSS_OUTPUT in page.texts("#run-output")[0]
    page.wait_css("#run-stderr", "oops")
    page.no_alert()
    page.shot("job")

    # A run waiting for approval, approved from the dashboard as the user who ran `symbi ui`.
    daemon.symbi("cron", "run", "guarded", check=True)
    wait_for(lambda: daemon.query("SELECT 1 FROM runs WHERE status = 'pending_approval'"), what="a pending run")
    page.go("#/approvals", "#approvals")
    page.wait_css("#approvals .card", "guarded")
    page.shot("approvals")
    page.click("#approvals .card button[data-action=approve]")
    page.wait_css("#approvals", "No run is waiting")
    approved = daemon.query("SELECT actor, details FROM audit WHERE type = 'CronRunApproved'")
    assert approved and approved[0][0] == f"ui:{link['identity']}"
    assert json.loads(approved[0][1])["approver"] == link["identity"]

    # The other pages render.
    for hash_, selector, name in (
        ("#/timeline", "#timeline svg", "timeline"),
        ("#/usage", "#usage-chart svg", "usage"),
        ("#/audit", "#audit tbody tr", "audit"),
        ("#/health", "#health .badge", "health"),
    ):
        page.go(hash_, selector)
        page.shot(name)
        if name == "usage":  # whole numbers, one per gridline, rising (no "0, 0, 1, 1, 1" for an empty chart)
            texts = browser.execute_script(
                "return [...document.querySelectorAll('#usage-chart svg text.y-label')].map(e => e.textContent)"
            )
            labels = [int(t.replace(",", "")) for t in texts]
            assert len(labels) == 5 and labels == sorted(set(labels)), labels
        if name == "timeline":  # a bar's and a fire's times: wall times of the job's zone, the zone named
            titles = browser.execute_script(
                "return [...document.querySelectorAll('#timeline svg title')].map(e => e.textContent)"
            )
            bar = re.compile(r"nightly-report: succeeded, 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d Europe/Madrid → ")
            assert any(bar.match(t) for t in titles), titles
            assert "nightly-report: fires at " not in " ".join(titles) or any(
                re.fullmatch(r"nightly-report: fires at 20\d\d-\d\d-\d\d 03:00:00 Europe/Madrid", t) for t in titles
            ), titles
        if name == "audit":  # the log's times belong to no job's zone: they are UTC and say so
            times = page.texts("#audit tbody td:nth-child(2)")
            assert times and all(t.endswith(" UTC") for t in times), times
    page.no_alert()
    page.console()
    assert page.errors == [], page.errors

    # A link to a job that is not there (removed since, or mistyped) says so, rather than empty panels.
    page.go("#/jobs/no-such-job", "#no-job")
    assert "no-such-job" in page.texts("#no-job")[0] and not page.css("#runs")
    page.console()
    assert all("404" in e for e in page.errors), page.errors  # the browser logs the refused reads
    page.errors.clear()

    # The daemon restarts under the open page: the page says the daemon does not answer (not the browser's
    # "Failed to fetch"), and carries on by itself, the notice gone, once it answers again.
    page.go("#/jobs", "#jobs tbody tr")
    daemon.symbi("cron", "daemon", "stop", check=True)
    page.wait_css("#notice", "does not answer")
    daemon.start()
    wait_for(lambda: browser.execute_script("return document.getElementById('notice').hidden"), what="no notice")
    page.wait_css("#jobs td.name a", "nightly-report")
    page.console()
    assert all("ERR_CONNECTION_REFUSED" in e for e in page.errors), page.errors
    page.errors.clear()

    # Every session ended from the shell: the page says so and stops asking the server.
    daemon.symbi("ui", "--logout-all", check=True)
    page.wait_css(".login", "session ended")
    browser.execute_script("performance.clearResourceTimings()")
    time.sleep(2.5)  # longer than the page's pulse (2 s): it would have asked again by now
    asked = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in asked if "/ui/api/" in u], asked
    page.console()
    assert len(page.errors) <= 2 and all("401" in e for e in page.errors), page.errors

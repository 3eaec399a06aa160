"""What the web dashboard's pages cost on a large store: 10,000 jobs and 1,000,000 finished runs (issue 18:
every page fast at that size, first paint under one second in the browser).

The store is filled as bench/metrics_scrape.py fills it (the real write path; the run statistics kept by the
store's triggers). The real API server serves the dashboard on 127.0.0.1; a session is opened through the real
login (a one-time token traded for the session cookie), and each page's data request is timed over HTTP as the
page's scripts send it. Printed beside a peer measured on the same store in the same run: the API's own first page
of jobs (`GET /api/v1/schedules?limit=50`). With `--browser` (Debian's chromium and
chromium-driver, selenium from the test extras) the jobs page is also opened in headless Chromium and its first
contentful paint and first data are read from the browser's performance entries, beside the one-second target.

    python bench/dashboard.py [--jobs 10000] [--runs 1000000] [--requests 30] [--keep DIR] [--browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_scrape import get, measure, open_store  # noqa: E402  (the same store as the metrics bench)

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def row(label: str, times: list[float], size: int) -> str:
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 20 else max(times)
    return f"{label:<46} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  {size / 1000:7.1f} kB"


def browser_paint(url: str, runs: int = 3) -> list[tuple[float, float]]:
    """First contentful paint and first data of the jobs page, in ms from navigation, ``runs`` fresh loads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="symbi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    out = []
    try:
        driver.get(url)  # logs in: the cookie is set, the token leaves the address bar
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr"))
        page = driver.current_url.split("#")[0]
        for _ in range(runs):
            driver.get("about:blank")
            driver.get(page + "#/jobs")
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr"))
            fcp, data = driver.execute_script(
                "const m = performance.getEntriesByName('symbi-first-data')[0];"
                "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                "return [p ? p.startTime : -1, m ? m.startTime : -1];"
            )
            out.append((float(fcp), float(data)))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the store in this directory")
    ap.add_argument("--browser", action="store_true", help="also time the jobs page in headless Chromium")
    args = ap.parse_args()

    from symbi_cron.http.server import start_api
    from symbi_cron.services.dashboard_sessions import issue_login, start_session

    # Runs end now, so the timeline's last day is full.
    app, _ = open_store(args.keep, args.jobs, args.runs, now=int(time.time() * 1000))

    app.settings.dashboard.enabled = True
    handle = start_api(app, None, port=0)
    key = handle.key
    try:
        port = handle.port
        host = f"127.0.0.1:{port}"
        session = start_session(app, issue_login(app, "bench")["token"])
        ui = {"Host": host, "Cookie": f"symbi_session_{port}={session['token']}"}
        job = json.loads(get(port, "/ui/api/jobs?limit=50", ui)[1])
        first = job["jobs"][0]["id"]
        pages = [
            ("jobs page (50 of 10,000, last 20 runs each)", "/ui/api/jobs?limit=50"),
            ("jobs page filtered by name", "/ui/api/jobs?limit=50&name=job-09"),
            ("jobs page filtered by status and agent", "/ui/api/jobs?limit=50&status=paused&agent=agent-7"),
            ("a job (settings, next fires)", f"/ui/api/jobs/{first}"),
            ("a job's runs (a page of 50)", f"/ui/api/jobs/{first}/runs?limit=50"),
            ("timeline, last 24 hours", "/ui/api/timeline?hours=24"),
            ("timeline, last 7 days", "/ui/api/timeline?hours=168"),
            ("usage", "/ui/api/usage"),
            ("audit (newest page)", "/ui/api/audit"),
            ("health", "/ui/api/health"),
            ("pulse (asked every 2 s)", "/ui/api/pulse"),
        ]
        print()
        print(f"dashboard data requests, {args.requests} each after a warm-up (a page shows in under 1,000 ms):")
        for label, path in pages:
            times, body, _ = measure(port, path, args.requests, ui)
            print(row(label, times, len(body)))
        print()
        print("peer on the same store and server:")
        times, body, _ = measure(port, "/api/v1/schedules?limit=50", args.requests, {"Authorization": f"Bearer {key}"})
        print(row("GET /api/v1/schedules?limit=50 (the API)", times, len(body)))
        times, body, _ = measure(port, "/ui/static/app.js", args.requests, {"Host": host})
        print(row("a static file (/ui/static/app.js)", times, len(body)))

        if args.browser:
            login = issue_login(app, "bench-browser")["token"]
            paints = browser_paint(f"http://{host}/ui#login={login}")
            print()
            print("headless Chromium, the jobs page loaded afresh (target: both under 1,000 ms):")
            for fcp, data in paints:
                print(f"{'first contentful paint':<46} {fcp:7.0f} ms   first data drawn {data:7.0f} ms")
    finally:
        handle.close()


if __name__ == "__main__":
    main()

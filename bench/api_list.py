"""Listing through the API at scale: 10,000 jobs (and a job with 100,000 runs), read over HTTP from the real server
on 127.0.0.1. Prints the time and bytes of the default page, of a 1000-item page, of the last page reached by its
cursor, and of walking every page -- beside the whole list read in one answer (what every list did before paging:
266 ms and 9 MB at 10,000 jobs), measured in the same run.

    nice .venv/bin/python bench/api_list.py [--jobs 10000] [--runs 100000] [--repeat 20]

Target: a page costs the same at the end of a list as at its start (a keyset, never an OFFSET).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="symbi-bench-"))
    os.environ["SYMBI_HOME"] = str(home)
    (home / "config.toml").write_text('[scheduler]\ndefault_timezone = "UTC"\n')

    from symbi_cron.http.server import start_api
    from symbi_cron.services.app import open_app
    from symbi_cron.services.jobs import list_jobs
    from symbi_cron.store import jobs as job_rows
    from symbi_cron.store import runs as run_rows

    app = open_app(notify=False)
    now = 1_800_000_000_000
    with app.store.write() as tx:
        for i in range(args.jobs):
            spec = {
                "name": f"job-{i:06d}",
                "agent_id": "reporter",
                "cron_expr": "*/5 * * * *",
                "timezone": "UTC",
                "delivery": ["log_file", "webhook"],
                "webhook_url": "https://hooks.example.com/notify",
                "policy": {"require_approval": False, "approvers": [], "max_runtime": 600},
                "session_mode": "ephemeral_with_summary",
                "max_retries": 3,
            }
            job_rows.insert(
                tx, id=f"{i:08x}-0000-4000-8000-000000000000", spec=spec, status="active", next_run=now, now_ms=now
            )
        busy = "00000000-0000-4000-8000-000000000000"
        for r in range(args.runs):
            at = now - (args.runs - r) * 60_000
            run_rows.insert(
                tx, id=f"{r:08x}-1111-4000-8000-000000000000", job_id=busy, trigger="schedule", status="succeeded",
                scheduled_for=at, now_ms=at, finished=True,
            )  # fmt: skip
    app.store.connection().execute("ANALYZE")
    handle = start_api(app, None, port=0)
    auth = {"Authorization": f"Bearer {handle.key}"}

    def get(path: str) -> tuple[float, int, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=120)
        t = time.perf_counter()
        conn.request("GET", path, headers=auth)
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t) * 1000
        assert resp.status == 200, (path, resp.status, body[:200])
        headers = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        return ms, len(body), headers

    def timed(path: str, repeat: int) -> tuple[float, int]:
        samples = [get(path) for _ in range(repeat)]
        return statistics.median(s[0] for s in samples), samples[0][1]

    def walk(path: str, limit: int) -> tuple[float, int, int, str | None]:
        t = time.perf_counter()
        total, pages, url, last_cursor = 0, 0, f"{path}?limit={limit}", None
        while True:
            _, size, headers = get(url)
            total += size
            pages += 1
            cursor = headers.get("x-next-cursor")
            if cursor is None:
                return (time.perf_counter() - t) * 1000, total, pages, last_cursor
            last_cursor = cursor
            url = f"{path}?limit={limit}&cursor={quote(cursor)}"

    print(f"{args.jobs} jobs, {args.runs} runs of one job; median of {args.repeat} requests each")
    # The peer: the whole list in one answer, as GET /api/v1/schedule answered before paging (services, JSON).
    from symbi_cron.http.server import dumps

    t = time.perf_counter()
    whole = dumps(list_jobs(app))
    peer_ms = (time.perf_counter() - t) * 1000
    print(
        f"  whole list, one answer (before paging; service + JSON only) {peer_ms:7.1f} ms  {len(whole) / 1e6:6.2f} MB"
    )
    for label, path in (
        ("GET /api/v1/schedule (default page, 100)", "/api/v1/schedule"),
        ("GET /api/v1/schedule?limit=1000", "/api/v1/schedule?limit=1000"),
        ("GET /api/v1/schedules (runtime family)", "/api/v1/schedules"),
        ("GET /api/v1/schedule/{busy}/history (default 20)", f"/api/v1/schedule/{busy}/history"),
    ):
        ms, size = timed(path, args.repeat)
        print(f"  {label:55s} {ms:7.1f} ms  {size / 1e3:8.1f} kB")
    walk_ms, total, pages, last = walk("/api/v1/schedule", 100)
    print(f"  walk every job page (limit=100): {pages} pages {walk_ms:7.1f} ms  {total / 1e6:6.2f} MB")
    ms, size = timed(f"/api/v1/schedule?limit=100&cursor={quote(last or '')}", args.repeat)
    print(f"  the last job page, by its cursor                        {ms:7.1f} ms  {size / 1e3:8.1f} kB")
    walk_ms, total, pages, last = walk(f"/api/v1/schedule/{busy}/history", 1000)
    print(f"  walk every history page (limit=1000): {pages} pages {walk_ms:7.1f} ms  {total / 1e6:6.2f} MB")
    ms, size = timed(f"/api/v1/schedule/{busy}/history?limit=20&cursor={quote(last or '')}", args.repeat)
    print(f"  a history page {args.runs - 1000} runs deep, by its cursor         {ms:7.1f} ms  {size / 1e3:8.1f} kB")
    handle.close()


if __name__ == "__main__":
    main()

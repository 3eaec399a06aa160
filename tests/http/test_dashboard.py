"""The dashboard's server side (http/dashboard.py) against the real server on 127.0.0.1: login links work once
and expire, sessions expire and end with `symbi ui --logout-all`, every change needs the page's Origin and the
session's CSRF token, the Host header must name this server (DNS rebinding), the pages carry a CSP without
inline script, and the dashboard can be switched off."""

from __future__ import annotations

import pytest
from api_helpers import Http

from symbi_cron.services import agents, jobs
from symbi_cron.services.dashboard_sessions import csrf_token, end_all, issue_login


@pytest.fixture
def ui(http: Http, app):
    """A client for /ui: the right Host and Origin by default, no API key."""
    host = f"127.0.0.1:{http.handle.port}"

    def call(method, path, body=None, *, cookie=None, csrf=None, headers=None):
        h = {"Host": host}
        if method != "GET":
            h["Origin"] = f"http://{host}"
        if cookie:
            h["Cookie"] = cookie
        if csrf:
            h["X-CSRF-Token"] = csrf
        h.update(headers or {})
        return http(method, path, body, auth=False, headers={k: v for k, v in h.items() if v is not None})

    return call


def login(ui, app, identity="alice"):
    token = issue_login(app, identity)["token"]
    reply = ui("POST", "/ui/api/login", {"token": token})
    assert reply.status == 200, reply.body
    cookie = reply.headers["set-cookie"].split(";")[0]
    return cookie, reply.body["csrf"], token


@pytest.fixture
def job(app):
    agents.add_agent(app, {"name": "reporter", "command": "true"})
    return jobs.create_job(app, {"name": "nightly", "agent_id": "reporter", "cron_expr": "0 3 * * *"})


def test_a_login_link_opens_a_session_once_and_the_cookie_is_strict(ui, app, job):
    cookie, csrf, token = login(ui, app)
    reply = ui("GET", "/ui/api/session", cookie=cookie)
    assert reply.body["identity"] == "alice" and reply.body["csrf"] == csrf
    assert ui("POST", "/ui/api/login", {"token": token}).status == 403  # used
    raw = ui("POST", "/ui/api/login", {"token": issue_login(app, "bob")["token"]}).headers["set-cookie"]
    assert "HttpOnly" in raw and "SameSite=Strict" in raw and "Path=/ui" in raw
    assert ui("GET", "/ui/api/jobs", cookie=cookie).body["jobs"][0]["name"] == "nightly"
    assert ui("GET", "/ui/api/jobs").status == 401
    assert ui("GET", "/ui/api/session").body == {"identity": None}
    assert ui("GET", "/ui/api/jobs", headers={"Authorization": f"Bearer {app.settings.api.key or ''}"}).status == 401


def test_links_and_sessions_expire_and_logout_all_ends_them(ui, app, clock, job):
    token = issue_login(app, "alice")["token"]
    clock.advance(app.settings.dashboard.login_link_minutes * 60 + 1)
    assert ui("POST", "/ui/api/login", {"token": token}).status == 403
    cookie, _csrf, _ = login(ui, app)
    clock.advance(app.settings.dashboard.session_hours * 3600 + 1)
    assert ui("GET", "/ui/api/jobs", cookie=cookie).status == 401
    cookie, _csrf, _ = login(ui, app)
    assert end_all(app) == {"sessions": 1, "login_links": 0}  # the expired one was swept by the new link
    assert ui("GET", "/ui/api/jobs", cookie=cookie).status == 401


def test_a_change_needs_the_pages_origin_and_the_csrf_token(ui, app, job):
    cookie, csrf, _ = login(ui, app)
    assert ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie).status == 403  # no token
    assert ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie, csrf="0" * 64).status == 403
    evil = {"Origin": "http://evil.example"}
    assert ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie, csrf=csrf, headers=evil).status == 403
    assert ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie, csrf=csrf, headers={"Origin": None}).status == 403
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie, csrf=csrf, headers=cross).status == 403
    assert jobs.get_job(app, "nightly")["status"] == "active"
    reply = ui("POST", "/ui/api/jobs/nightly/pause", cookie=cookie, csrf=csrf)
    assert reply.status == 200 and reply.body["status"] == "paused"
    assert csrf == csrf_token(cookie.split("=", 1)[1])
    from symbi_cron.services.audit import query_events

    assert query_events(app, types=["CronJobPaused"])[0]["actor"] == "ui:alice"


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}", "", "10.0.0.1:{port}"]
)
def test_the_host_must_name_this_server(ui, http, host):
    reply = ui("GET", "/ui", headers={"Host": host.format(port=http.handle.port)})
    assert reply.status == 421


def test_localhost_names_a_loopback_server(ui, http):
    assert ui("GET", "/ui", headers={"Host": f"localhost:{http.handle.port}"}).status == 200


def test_the_page_has_a_csp_without_inline_script_and_no_inline_script(ui):
    reply = ui("GET", "/ui")
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "require-trusted-types-for 'script'" in csp
    assert "frame-ancestors 'none'" in csp and reply.headers["x-frame-options"] == "DENY"
    import re

    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", reply.text, re.S)
    assert scripts and all('src="/ui/static/' in attrs and body.strip() == "" for attrs, body in scripts)
    assert ui("GET", "/ui/static/app.js").headers["content-type"].startswith("text/javascript")
    assert ui("GET", "/ui/static/..%2Fconfig.py").status == 404
    assert ui("GET", "/ui/static/__init__.py").status == 404


def test_the_web_files_use_no_markup_sink():
    from importlib import resources

    for f in resources.files("symbi_cron.web").iterdir():
        if f.name.endswith(".js"):
            text = f.read_text(encoding="utf-8")
            for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
                assert sink not in text, (f.name, sink)


def test_the_dashboard_can_be_switched_off(ui, app, job):
    cookie, _csrf, _ = login(ui, app)
    app.settings.dashboard.enabled = False
    assert ui("GET", "/ui").status == 404
    assert ui("GET", "/ui/api/jobs", cookie=cookie).status == 404


def test_the_api_key_opens_no_dashboard_and_the_api_is_unchanged(http, ui):
    assert http("GET", "/api/v1/schedule").status == 200
    assert ui("GET", "/ui/api/pulse").status == 401


def test_a_name_is_read_from_the_path_as_the_page_encodes_it(ui, app):
    # A job's name may hold ':' and '@'; the page puts it in the path with encodeURIComponent, as the API's
    # clients do: the dashboard decodes it the same way.
    agents.add_agent(app, {"name": "reporter", "command": "true"})
    jobs.create_job(app, {"name": "team@host:daily", "agent_id": "reporter", "cron_expr": "0 3 * * *"})
    cookie, csrf, _ = login(ui, app)
    reply = ui("GET", "/ui/api/jobs/team%40host%3Adaily", cookie=cookie)
    assert reply.status == 200 and reply.body["job"]["name"] == "team@host:daily", reply.body
    assert ui("POST", "/ui/api/jobs/team%40host%3Adaily/pause", cookie=cookie, csrf=csrf).status == 200
    assert jobs.get_job(app, "team@host:daily")["status"] == "paused"
    assert ui("GET", "/ui/static/..%2Fconfig.py").status == 404
    assert ui("GET", "/ui/static/%2E%2E%2F__init__.py").status == 404


def test_the_session_cookie_is_found_beside_cookies_of_other_local_apps(ui, app, job, http):
    # A browser sends 127.0.0.1's cookies of every port: another app's cookie whose value http.cookies refuses
    # (a JSON object, a space) must not hide the session's.
    cookie, _csrf, _ = login(ui, app)
    for other in ('prefs={"theme": "dark"}', "greeting=hello world", 'broken="open'):
        for header in (f"{other}; {cookie}", f"{cookie}; {other}"):
            reply = ui("GET", "/ui/api/session", cookie=header)
            assert reply.body["identity"] == "alice", (header, reply.body)
    assert ui("GET", "/ui/api/jobs", cookie=f"x_{cookie}").status == 401  # another cookie's name is not ours


def test_two_host_headers_are_refused(http):
    # Which of two a proxy in front routed by is anyone's guess: a server must refuse the request (RFC 9112 3.2).
    from http.client import HTTPConnection

    port = http.handle.port
    for first, second in ((f"127.0.0.1:{port}", "evil.example"), ("evil.example", f"127.0.0.1:{port}")):
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("GET", "/ui", skip_host=True)
        conn.putheader("Host", first)
        conn.putheader("Host", second)
        conn.endheaders()
        assert conn.getresponse().status == 400
        conn.close()


def test_the_timeline_gives_every_time_as_seconds_after_its_start(ui, app, clock, job):
    """A page of every-five-minute jobs is thousands of bars and marks: each is a few numbers, not ISO strings."""
    from datetime import datetime, timedelta

    from symbi_cron.timeutil import to_ms

    cookie, _csrf, _ = login(ui, app)
    now = to_ms(clock.now())
    with app.store.write() as tx:
        for run_id, status, began, finished in (
            ("r-done", "succeeded", now - 3_600_000, now - 3_600_000 + 90_400),
            ("r-running", "running", now - 60_000, None),
        ):
            tx.execute(
                "INSERT INTO runs (id, job_id, trigger, status, scheduled_for, attempt, started_at, finished_at,"
                " created_at, updated_at) VALUES (?, ?, 'schedule', ?, ?, 1, ?, ?, ?, ?)",
                (run_id, job["id"], status, began, began, finished, began, began),
            )
    body = ui("GET", "/ui/api/timeline?hours=24", cookie=cookie).body
    start = datetime.fromisoformat(body["start"])
    assert start == clock.now() - timedelta(hours=24)
    assert (body["now"], body["end"]) == (86_400, 2 * 86_400)
    (lane,) = body["lanes"]
    assert (lane["name"], lane["timezone"]) == ("nightly", job["timezone"])
    assert lane["runs"] == [["r-running", "running", 86_400 - 60, None], ["r-done", "succeeded", 86_400 - 3_600, 90]]
    (fire,) = lane["upcoming"]  # 03:00 comes once a day
    assert start + timedelta(seconds=fire) == jobs.get_job(app, "nightly")["next_run"]

"""The web dashboard the daemon serves beside its API, under ``/ui`` (docs/dashboard.md).

The pages are static files of the package (``symbi_cron/web``: HTML, CSS and JavaScript modules, no build step);
they read ``/ui/api/...``, whose handlers here call the services. The rules, each enforced here for every request:

- the dashboard answers only when ``dashboard.enabled`` (404 otherwise);
- the ``Host`` header must name the address the server is bound to (``localhost`` too on a loopback address;
  any IP literal on a wildcard bind), so a DNS name rebound to 127.0.0.1 reaches nothing (DNS rebinding);
- ``/ui/api`` needs a session: an HttpOnly, SameSite=Strict cookie that a one-time login link opened
  (``services/dashboard_sessions.py``); the API key is never sent to the browser;
- every change (POST) needs an ``Origin`` equal to the page's own and the session's CSRF token in
  ``X-CSRF-Token``;
- every answer carries a Content-Security-Policy without inline script (Trusted Types required, so no string
  ever becomes HTML), and refuses framing.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput, SymbiError
from .wire import HttpError, Request, Response, error_response, int_param, path_param

PREFIX = "/ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none';"
    " require-trusted-types-for 'script'; trusted-types 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
_LOOPBACK_NAMES = ("localhost",)


@dataclasses.dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    session: bool = True


def _r(method: str, template: str, handler: str, session: bool = True) -> _Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", PREFIX + template) + "$"
    return _Route(method, re.compile(regex), handler, session)


ROUTES = (
    _r("GET", "", "page", session=False),
    _r("GET", "/static/{name}", "static", session=False),
    _r("POST", "/api/login", "login", session=False),
    _r("GET", "/api/session", "get_session", session=False),
    _r("POST", "/api/logout", "logout"),
    _r("GET", "/api/pulse", "pulse"),
    _r("GET", "/api/jobs", "jobs"),
    _r("GET", "/api/jobs/{id}", "job"),
    _r("GET", "/api/jobs/{id}/runs", "job_runs"),
    _r("POST", "/api/jobs/{id}/{action}", "job_action"),
    _r("GET", "/api/runs/{id}", "run"),
    _r("GET", "/api/runs/{id}/log", "run_log"),
    _r("POST", "/api/runs/{id}/approve", "approve"),
    _r("POST", "/api/runs/{id}/deny", "deny"),
    _r("GET", "/api/timeline", "timeline"),
    _r("GET", "/api/approvals", "approvals"),
    _r("GET", "/api/usage", "usage"),
    _r("GET", "/api/audit", "audit"),
    _r("POST", "/api/audit/verify", "verify_audit"),
    _r("GET", "/api/health", "health"),
)
_JOB_ACTIONS = ("pause", "resume", "reset", "run")


def _text(query: dict[str, str], name: str) -> str | None:
    value = (query.get(name) or "").strip()
    if len(value) > 200:
        raise InvalidInput("at most 200 characters", field=name)
    return value or None


class Dashboard:
    """The ``/ui`` handlers of one API server (``http/routes.Api`` hands them every ``/ui`` request)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._files: dict[str, tuple[bytes, str]] = {}
        self._verified: dict[str, Any] | None = None

    # -- plumbing ----------------------------------------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self.api.app

    @property
    def cookie_name(self) -> str:
        # Cookies are not kept apart by port: two daemons on one host must not overwrite each other's session.
        return f"symbi_session_{self.api.port}"

    def dispatch(self, request: Request) -> Response:
        try:
            response = self._dispatch(request)
        except SymbiError as exc:
            response = error_response(exc)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _dispatch(self, request: Request) -> Response:
        if not self.app.settings.dashboard.enabled:
            raise HttpError(404, "dashboard_disabled", "the dashboard is disabled (dashboard.enabled = false)")
        host = self._check_host(request)
        allowed: list[str] = []
        for route in ROUTES:
            m = route.pattern.match(request.path)
            if not m:
                continue
            if route.method != request.method and not (request.method == "HEAD" and route.method == "GET"):
                allowed.append(route.method)
                continue
            request.params = {k: path_param(v) for k, v in m.groupdict().items()}
            token = None
            if route.method != "GET":
                self._check_origin(request, host)
            if route.session:
                token, who = self._session(request)
                request.identity = who["identity"]
                if route.method != "GET":
                    self._check_csrf(request, token)
            handler: Callable[..., Response] = getattr(self, route.handler)
            return handler(request, token) if route.handler == "logout" else handler(request)
        if allowed:
            raise HttpError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.path}",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise HttpError(404, "not_found", f"no such page: {request.path}")

    def _allowed_host(self, name: str) -> bool:
        bind = self.api.bind
        try:
            bound = ipaddress.ip_address(bind)
        except ValueError:
            return name.lower() == bind.lower()
        if name.lower() in _LOOPBACK_NAMES:
            return bound.is_loopback or bound.is_unspecified
        try:
            given = ipaddress.ip_address(name)
        except ValueError:
            return False  # a DNS name: what a rebinding attack uses
        return bound.is_unspecified or given == bound

    def _check_host(self, request: Request) -> str:
        """The request's Host, when it names this server (see the module's rules); 421 otherwise (400 for two)."""
        get_all = getattr(request.headers, "get_all", None)
        if get_all is not None and len(get_all("Host") or ()) > 1:
            # RFC 9112 3.2: a server must refuse two; a proxy in front may have routed by the other one.
            raise HttpError(400, "bad_request", "more than one Host header")
        host = (request.headers.get("Host") or "").strip()
        m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", host)
        if m:
            name, port = m.group(1).strip("[]"), int(m.group(2) or 80)
            if port == self.api.port and self._allowed_host(name):
                return host
        raise HttpError(
            421,
            "misdirected_request",
            f"the dashboard answers only at {self._own_origin()} (Host {host or 'missing'} is not this server)",
        )

    def _own_origin(self) -> str:
        bind = self.api.bind
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(bind, f"[{bind}]" if ":" in bind else bind)
        return f"http://{shown}:{self.api.port}"

    def _check_origin(self, request: Request, host: str) -> None:
        origin = (request.headers.get("Origin") or "").strip()
        site = (request.headers.get("Sec-Fetch-Site") or "same-origin").strip().lower()
        if origin != f"http://{host}" or site not in ("same-origin", "none"):
            raise HttpError(403, "forbidden_origin", "a change must come from the dashboard's own page (Origin)")

    def _session(self, request: Request) -> tuple[str, dict[str, Any]]:
        from ..services.dashboard_sessions import session

        token = self._cookie(request)
        found = session(self.app, token)
        if token is None or found is None:
            raise HttpError(401, "login_required", "log in: run `symbi ui` and open the link it prints")
        return token, found

    def _cookie(self, request: Request) -> str | None:
        """The session token from the Cookie header, read pair by pair: a browser sends this host's cookies of every
        port, and one set by another local app with a value http.cookies refuses (a space, a JSON object) made
        SimpleCookie drop the rest of the header, our cookie with it (every request was then 'log in')."""
        for pair in (request.headers.get("Cookie") or "").split(";"):
            name, sep, value = pair.partition("=")
            if sep and name.strip() == self.cookie_name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                if value:
                    return value
        return None

    def _check_csrf(self, request: Request, token: str) -> None:
        from ..services.dashboard_sessions import csrf_ok

        if not csrf_ok(token, request.headers.get("X-CSRF-Token")):
            raise HttpError(403, "csrf", "missing or wrong X-CSRF-Token: reload the page")

    def _acting(self, request: Request) -> Any:
        """The App a dashboard user acts with: the audit log's actor is ``ui:NAME``."""
        return dataclasses.replace(self.app, actor=f"ui:{request.identity}")

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        ctype = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise HttpError(415, "unsupported_media_type", "send the body as application/json")
        body = request.json()
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object", field="body")
        return body

    # -- the page and its files --------------------------------------------------------------------------------
    def _file(self, name: str) -> tuple[bytes, str]:
        cached = self._files.get(name)
        if cached is None:
            from importlib import resources

            suffix = name[name.rfind(".") :] if "." in name else ""
            if suffix not in _TYPES or not re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z]+", name):
                raise HttpError(404, "not_found", f"no such file: {name}")
            try:
                data = resources.files("symbi_cron.web").joinpath(name).read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise HttpError(404, "not_found", f"no such file: {name}") from None
            cached = self._files[name] = (data, _TYPES[suffix])
        return cached

    def page(self, request: Request) -> Response:
        data, ctype = self._file("index.html")
        return Response(200, data, content_type=ctype)

    def static(self, request: Request) -> Response:
        data, ctype = self._file(request.params["name"])
        return Response(200, data, content_type=ctype)

    # -- sessions ----------------------------------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        from ..services.dashboard_sessions import start_session

        started = start_session(self.app, str(self._body(request).get("token") or ""))
        cookie = (
            f"{self.cookie_name}={started['token']}; Path={PREFIX}; HttpOnly; SameSite=Strict;"
            f" Max-Age={started['max_age_seconds']}"
        )
        return Response(
            200,
            {"identity": started["identity"], "expires_at": started["expires_at"], "csrf": started["csrf"]},
            headers={"Set-Cookie": cookie},
        )

    def get_session(self, request: Request) -> Response:
        """Who this browser is logged in as (``identity`` null when it is not: the page shows how to log in)."""
        from ..services.dashboard_sessions import csrf_token, session

        token = self._cookie(request)
        found = session(self.app, token)
        if token is None or found is None:
            return Response(200, {"identity": None})
        return Response(
            200,
            {
                "identity": found["identity"],
                "expires_at": found["expires_at"],
                "csrf": csrf_token(token),
                "environment": self.app.settings.environment,
            },
        )

    def logout(self, request: Request, token: str) -> Response:
        from ..services.dashboard_sessions import end_session

        end_session(self.app, token)
        return Response(
            200,
            {"logged_out": True},
            headers={"Set-Cookie": f"{self.cookie_name}=; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age=0"},
        )

    # -- reads -------------------------------------------------------------------------------------------------
    def pulse(self, request: Request) -> Response:
        from ..services.dashboard import pulse

        return Response(200, {"pulse": pulse(self.app)})

    def jobs(self, request: Request) -> Response:
        from ..services.dashboard import jobs_page

        q = request.query
        return Response(
            200,
            jobs_page(
                self.app,
                name=_text(q, "name"),
                status=_text(q, "status"),
                agent=_text(q, "agent"),
                after=q.get("after") or None,
                limit=int_param(q, "limit", 50, 1, 200, blank_is_default=True) or 50,
            ),
        )

    def job(self, request: Request) -> Response:
        from ..services.dashboard import job_detail

        return Response(200, job_detail(self.app, request.params["id"]))

    def job_runs(self, request: Request) -> Response:
        from ..services.dashboard import job_runs

        q = request.query
        return Response(
            200,
            job_runs(
                self.app,
                request.params["id"],
                before=int_param(q, "before", None, 0, 1 << 62, blank_is_default=True),
                limit=int_param(q, "limit", 20, 1, 100, blank_is_default=True) or 20,
                status=_text(q, "status"),
            ),
        )

    def run(self, request: Request) -> Response:
        from ..services.dashboard import run_detail

        return Response(200, run_detail(self.app, request.params["id"]))

    def run_log(self, request: Request) -> Response:
        from ..services.dashboard import run_log

        offset = int_param(request.query, "offset", 0, 0, 1 << 62, blank_is_default=True) or 0
        return Response(200, run_log(self.app, request.params["id"], offset=offset))

    def timeline(self, request: Request) -> Response:
        from ..services.dashboard import timeline

        q = request.query
        return Response(
            200,
            timeline(
                self.app,
                hours=int_param(q, "hours", 24, 1, 168, blank_is_default=True) or 24,
                name=_text(q, "name"),
                status=_text(q, "status"),
                after=q.get("after") or None,
                limit=int_param(q, "limit", 50, 1, 200, blank_is_default=True) or 50,
            ),
        )

    def approvals(self, request: Request) -> Response:
        from ..services.dashboard import approvals

        return Response(200, approvals(self.app))

    def usage(self, request: Request) -> Response:
        from ..services.dashboard import usage_page

        return Response(
            200, usage_page(self.app, days=int_param(request.query, "days", 14, 1, 366, blank_is_default=True) or 14)
        )

    def audit(self, request: Request) -> Response:
        from ..services.dashboard import audit_page

        q = request.query
        events = audit_page(
            self.app,
            type=_text(q, "type"),
            job=_text(q, "job"),
            actor=_text(q, "actor"),
            limit=int_param(q, "limit", 100, 1, 500, blank_is_default=True) or 100,
        )
        return Response(200, {"events": events, "verified": self._verified})

    def health(self, request: Request) -> Response:
        from ..apikey import key_problem
        from ..services.health import scheduler_health

        supervisor = self.api.supervisor
        snap = self.api._snapshot()
        h = scheduler_health(
            self.app, snap if supervisor is not None else None, api_problem=key_problem(self.app, self.api.key)
        )
        return Response(
            200,
            {
                "status": h["status"],
                "reasons": h["reasons"],
                "jobs": h["jobs"],
                "open_runs": h["open"],
                "tick_lag_seconds": snap.get("tick_lag_seconds"),
                "in_flight": snap.get("in_flight"),
                "store_accessible": h["store_accessible"],
            },
        )

    # -- changes -----------------------------------------------------------------------------------------------
    def job_action(self, request: Request) -> Response:
        from ..services import jobs
        from ..services.runs import queue_manual

        action = request.params["action"]
        if action not in _JOB_ACTIONS:
            raise HttpError(404, "not_found", f"no such action: {action} (expected {', '.join(_JOB_ACTIONS)})")
        app, ref = self._acting(request), request.params["id"]
        if action == "run":
            run = queue_manual(app, ref)
            return Response(202, {"run_id": run["id"], "status": run["status"], "job_id": run["job_id"]})
        job = {"pause": jobs.pause_job, "resume": jobs.resume_job, "reset": jobs.reset_job}[action](app, ref)
        return Response(200, {"id": job["id"], "name": job["name"], "status": job["status"]})

    def approve(self, request: Request) -> Response:
        from ..services.approvals import approve_run

        run = approve_run(self._acting(request), request.params["id"], user=request.identity)
        return Response(200, {"run_id": run["id"], "status": run["status"]})

    def deny(self, request: Request) -> Response:
        from ..services.approvals import deny_run

        reason = self._body(request).get("reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput("must be text", field="reason")
        run = deny_run(self._acting(request), request.params["id"], reason, user=request.identity)
        return Response(200, {"run_id": run["id"], "status": run["status"]})

    def verify_audit(self, request: Request) -> Response:
        from ..services.audit import verify_chain

        try:
            result = verify_chain(self.app)
        except SymbiError as exc:
            result = {"ok": False, "count": None, "head": None, "problems": [{"message": str(exc)}]}
        result = dict(result)
        result["problems"] = list(result.get("problems") or [])[:50]
        result["at"] = self.app.clock.now().isoformat()
        self._verified = result
        return Response(200, result)

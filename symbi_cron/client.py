"""A Python client for the symbi-cron HTTP API, with the surface of the Symbiont guide's Python SDK::

    from symbi_cron.client import SymbiontClient

    client = SymbiontClient()                      # the local daemon: URL from config, key from api.key
    job = client.schedule.create(name="hourly-metrics", agent_id="metrics-agent", cron_expr="0 * * * *")
    details = client.schedule.get(job.id)
    print(details.cron_expr, details.next_run)

Answers are :class:`Record` objects (attribute and item access; times stay ISO 8601 strings as the API sends
them). Errors raise :class:`ApiError` subclasses carrying the HTTP ``status``, the API's ``code`` and ``details``.
Standard library only: calls go through :mod:`symbi_cron.net` (urllib; a loopback daemon is never reached through a
proxy, a redirect is never followed).
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from . import net
from .errors import SymbiError

__all__ = [
    "SymbiontClient",
    "Record",
    "ApiError",
    "InvalidInputError",
    "AuthenticationError",
    "PermissionError_",
    "NotFoundError",
    "ConflictError",
    "ApiConnectionError",
]


class ApiError(SymbiError):
    """An error answer from the API: ``status`` (HTTP), ``code`` (stable, machine-readable), ``details``."""

    def __init__(self, message: str, *, status: int, code: str = "error", details: Any = None) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.http_status = status
        self.code = code


class InvalidInputError(ApiError):
    exit_code = 2


class AuthenticationError(ApiError):
    pass


class PermissionError_(ApiError):
    pass


class NotFoundError(ApiError):
    exit_code = 3


class ConflictError(ApiError):
    exit_code = 4


class ApiConnectionError(ApiError):
    """The daemon could not be reached (not running, wrong URL, timeout)."""

    exit_code = 5


#: The largest page the server answers (http/paging.MAX_PAGE).
_MAX_PAGE = 1000

_BY_STATUS = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionError_,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidInputError,
    415: InvalidInputError,
}


class Record(Mapping[str, Any]):
    """A JSON object with attribute access (``job.id``); nested objects and lists of objects are Records too."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"{name!r} is not in this answer (fields: {', '.join(self._data)})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("answers are read-only")

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Record({self._data!r})"

    def __dir__(self) -> list[str]:
        return list(self._data)

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON object."""
        return dict(self._data)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _local_defaults() -> tuple[str, str | None]:
    """The local daemon's URL and key, from config and SYMBI_HOME (the key file is never created here)."""
    from .services.app import open_app

    app = open_app(notify=False)
    api = app.settings.api
    url = net.local_url(api.bind, api.port)
    try:
        from .apikey import api_key

        key: str | None = api_key(app, create=False)
    except SymbiError:
        key = None
    return url, key


class SymbiontClient:
    """The API client. ``base_url`` and ``api_key`` default to ``SYMBI_API_URL`` / the local daemon's config and
    ``SYMBI_API_KEY`` / the local ``api.key``."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 30.0) -> None:
        base_url = base_url or os.environ.get("SYMBI_API_URL")
        api_key = api_key or os.environ.get("SYMBI_API_KEY") or None
        if base_url is None or api_key is None:
            url, key = _local_defaults()
            base_url = base_url or url
            api_key = api_key or key
        base = base_url.rstrip("/")
        if base.endswith("/api/v1"):  # the runtime SDKs' convention: accept it
            base = base[: -len("/api/v1")]
        self.base_url = base
        self.api_key = api_key
        self.timeout = timeout
        self.schedule = ScheduleApi(self)
        self.runs = RunsApi(self)

    def request(self, method: str, path: str, *, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """One call: JSON in, JSON out; raises an ApiError subclass for an error answer."""
        return self.call(method, path, body=body, query=query)[0]

    def pages(self, path: str, query: dict[str, Any] | None = None) -> Iterator[Any]:
        """GET a paged list and yield each page's body, following ``X-Next-Cursor`` to the last page."""
        q = dict(query or {})
        while True:
            page, headers = self.call("GET", path, query=q)
            yield page
            cursor = headers.get("X-Next-Cursor")
            if not cursor:
                return
            q["cursor"] = cursor

    def call(
        self, method: str, path: str, *, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        """One call; the JSON answer and the response headers."""
        url = self.base_url + path
        q = {k: v for k, v in (query or {}).items() if v is not None}
        if q:
            url += "?" + urlencode(q)
        data = None
        headers = {"Accept": "application/json", "User-Agent": "symbi-cron-client"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            answer = net.request(method, url, body=data, headers=headers, timeout=self.timeout)
        except net.NetError as exc:
            hint = "check SYMBI_API_URL" if exc.kind == net.URL else "is `symbi cron daemon` running?"
            raise ApiConnectionError(
                f"cannot reach the symbi API at {self.base_url}: {exc.reason} ({hint})",
                status=0,
                code="unreachable",
            ) from None
        if not answer.ok:
            raise _error_from(answer)
        return (json.loads(answer.body) if answer.body else None), answer.headers

    def __repr__(self) -> str:
        return f"SymbiontClient(base_url={self.base_url!r})"


def _error_from(answer: net.Response) -> ApiError:
    if answer.redirect:
        where = answer.headers.get("Location") or "elsewhere"
        return ApiError(
            f"HTTP {answer.status}: the API answered with a redirect to {where}; {net.NOT_FOLLOWED}"
            " (point the client at the API itself)",
            status=answer.status,
            code="redirect",
        )
    try:
        body = json.loads(answer.body or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    cls = _BY_STATUS.get(answer.status, ApiError)
    return cls(
        body.get("error") or f"HTTP {answer.status}",
        status=answer.status,
        code=body.get("code", "error"),
        details=body.get("details"),
    )


def _ref(job_id: Any) -> str:
    if isinstance(job_id, Record):
        job_id = job_id.id
    return quote(str(job_id), safe="")


class ScheduleApi:
    """``client.schedule``: the guide's /api/v1/schedule family."""

    _BASE = "/api/v1/schedule"

    def __init__(self, client: SymbiontClient) -> None:
        self._c = client

    def create(self, spec: Mapping[str, Any] | None = None, **fields: Any) -> Record:
        """Create a job from its fields (SPEC §4 names); returns the job."""
        return Record(self._c.request("POST", self._BASE, body={**(spec or {}), **fields}))

    def list(self, status: str | None = None, agent_id: str | None = None) -> builtins.list[Record]:
        """All jobs by name, optionally filtered by status and agent (every page, read one after another)."""
        return builtins.list(self.iter(status=status, agent_id=agent_id))

    def iter(
        self, status: str | None = None, agent_id: str | None = None, *, page_size: int | None = None
    ) -> Iterator[Record]:
        """Jobs by name, a page (``page_size``, the server's default 100) at a time: a long list is never held
        whole."""
        for page in self._c.pages(self._BASE, {"status": status, "agent_id": agent_id, "limit": page_size}):
            yield from (Record(j) for j in page)

    def get(self, job_id: Any) -> Record:
        """One job by id, id prefix or name."""
        return Record(self._c.request("GET", f"{self._BASE}/{_ref(job_id)}"))

    def get_status(self, job_id: Any, history: int = 5) -> Record:
        """A job with its ``recent_runs``."""
        return Record(self._c.request("GET", f"{self._BASE}/{_ref(job_id)}", query={"history": history}))

    def update(self, job_id: Any, changes: Mapping[str, Any] | None = None, **fields: Any) -> Record:
        """Change some fields; returns the job."""
        return Record(self._c.request("PUT", f"{self._BASE}/{_ref(job_id)}", body={**(changes or {}), **fields}))

    def delete(self, job_id: Any) -> Record:
        return Record(self._c.request("DELETE", f"{self._BASE}/{_ref(job_id)}"))

    def pause(self, job_id: Any) -> Record:
        return Record(self._c.request("POST", f"{self._BASE}/{_ref(job_id)}/pause"))

    def resume(self, job_id: Any) -> Record:
        return Record(self._c.request("POST", f"{self._BASE}/{_ref(job_id)}/resume"))

    def run_now(self, job_id: Any, input: str | None = None) -> Record:
        """Queue a run now; returns it (``run.id``, ``run.status``)."""
        body = {"input": input} if input is not None else {}
        return Record(self._c.request("POST", f"{self._BASE}/{_ref(job_id)}/run", body=body))

    def get_history(self, job_id: Any, limit: int | None = None, status: str | None = None) -> builtins.list[Record]:
        """The newest ``limit`` runs (the server's default page, 20, when None), newest first; a ``limit`` over
        one page is read page by page."""
        if limit is None:
            return [Record(r) for r in self._c.request("GET", self._history(job_id), query={"status": status})]
        out: builtins.list[Record] = []
        for run in self.iter_history(job_id, status=status, page_size=min(limit, _MAX_PAGE)):
            out.append(run)
            if len(out) >= limit:
                break
        return out

    def iter_history(self, job_id: Any, status: str | None = None, *, page_size: int | None = None) -> Iterator[Record]:
        """Every run of the job, newest first, a page at a time (``page_size``, the server's default 20)."""
        for page in self._c.pages(self._history(job_id), {"status": status, "limit": page_size}):
            yield from (Record(r) for r in page)

    def _history(self, job_id: Any) -> str:
        return f"{self._BASE}/{_ref(job_id)}/history"

    def next_run(self, job_id: Any, count: int = 1) -> Record:
        return Record(self._c.request("GET", f"{self._BASE}/{_ref(job_id)}/next_run", query={"count": count}))

    def health(self) -> Record:
        """The scheduler's health (``status``, ``active_jobs``, ``in_flight_jobs``, ``metrics``)."""
        return Record(self._c.request("GET", "/api/v1/health/scheduler"))


class RunsApi:
    """``client.runs``: one run by id (``GET /api/v1/runs/{id}``), to follow a run without polling history."""

    def __init__(self, client: SymbiontClient) -> None:
        self._c = client

    def get(self, run_id: Any) -> Record:
        """One run by id or unique id prefix, with its output and delivery receipts."""
        return Record(self._c.request("GET", f"/api/v1/runs/{_ref(run_id)}"))

    def approve(self, run_id: Any) -> Record:
        """Approve a run waiting in pending_approval, as the identity bound to this client's key."""
        return Record(self._c.request("POST", f"/api/v1/runs/{_ref(run_id)}/approve"))

    def deny(self, run_id: Any, reason: str | None = None) -> Record:
        """Deny a run waiting in pending_approval (the reason is kept on the run and in the audit log)."""
        body = {"reason": reason} if reason is not None else {}
        return Record(self._c.request("POST", f"/api/v1/runs/{_ref(run_id)}/deny", body=body))

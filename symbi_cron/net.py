"""Every outbound HTTP call symbi makes goes through :func:`request`: webhook and Slack deliveries, the model APIs,
AgentPin discovery, the Python client of the API and the doctor's probes of the daemon. One set of rules for all:

- **No redirect is followed.** A 3xx is an answer like any other (:attr:`Response.redirect`) and each caller says so
  in its error (:data:`NOT_FOLLOWED`): following one would re-send the body, and the key or token in its headers,
  to a place the user never named.
- **Loopback is reached directly.** A host for which :func:`is_loopback` holds (``localhost``, 127.0.0.0/8,
  ``::1``) never goes through a proxy from the environment; any other host honours ``https_proxy``/``no_proxy``.
- **http and https only**; an ``https`` URL is checked against the system's CAs (or ``ca_file``).
- **An HTTP answer never raises**: every status comes back as a :class:`Response`. No answer at all raises
  :class:`NetError`, whose ``kind`` says what went wrong and whose text is the one a delivery receipt shows.
- **Retry-After** (:func:`retry_after`): ``retry-after-ms``, then ``Retry-After`` in seconds or as an HTTP date.

Retrying (the backoff, the deadline, cancellation) is :mod:`symbi_cron.retry`'s job. urllib is imported when a
call is made, never when this module is: the CLI's light path imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "NOT_FOLLOWED",
    "Headers",
    "NetError",
    "Response",
    "Streamed",
    "is_loopback",
    "local_url",
    "request",
    "retry_after",
    "stream",
]

#: What an error says of a 3xx answer.
NOT_FOLLOWED = "redirects are not followed"

#: The kinds of :class:`NetError`: the URL cannot be used; no answer within the timeout; the connection could not
#: be made or the request not sent; the connection broke while the answer was awaited or read; the answer was not
#: HTTP (a bad status line, a cut body).
URL, TIMEOUT, CONNECT, BROKEN, PROTOCOL = "url", "timeout", "connect", "broken", "protocol"


def is_loopback(host: str | None) -> bool:
    """True for a name or address of this machine's loopback: ``localhost`` (and ``localhost.localdomain``), any
    address of 127.0.0.0/8, ``::1`` (brackets allowed, an IPv4-mapped ``::ffff:127.x.y.z`` too). A wildcard
    (``0.0.0.0``, ``::``, empty) is not loopback."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in ("localhost", "localhost.localdomain"):
        return True
    import ipaddress

    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def local_url(bind: str, port: int, path: str = "") -> str:
    """The URL a client on this machine reaches a server bound at ``bind``:``port`` at: a wildcard bind
    (``0.0.0.0``, ``::``, empty) is reached on the loopback (``127.0.0.1``, ``::1``); an IPv6 address is
    bracketed."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind, bind)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


class Headers(Mapping[str, str]):
    """An answer's headers, looked up case-insensitively; a repeated header keeps its first value."""

    __slots__ = ("_by_lower",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        by_lower: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            by_lower.setdefault(str(key).lower(), (str(key), str(value)))
        self._by_lower = by_lower

    def __getitem__(self, key: str) -> str:
        return self._by_lower[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_lower.values())

    def __len__(self) -> int:
        return len(self._by_lower)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class Response:
    """One HTTP answer, whatever its status."""

    status: int
    headers: Headers
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def redirect(self) -> bool:
        """A 3xx: not followed (see :data:`NOT_FOLLOWED`)."""
        return 300 <= self.status < 400


class NetError(Exception):
    """No HTTP answer came. ``kind`` is one of url, timeout, connect, broken, protocol; ``reason`` is what urllib
    gave (an exception, or a text); ``timeout`` the seconds the call was allowed. ``str()`` is the text a delivery
    receipt shows: ``timed out after 10s``, ``connection failed (Connection refused)``..."""

    def __init__(self, kind: str, text: str, reason: Any = None, timeout: float | None = None) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text
        self.reason = reason if reason is not None else text
        self.timeout = timeout

    @property
    def reason_text(self) -> str:
        """The reason in words: an OS error's own message (``Connection refused``), else the reason as text."""
        return _reason_text(self.reason)

    def __str__(self) -> str:
        return self.text


def _reason_text(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_body: int | None = None,
    ca_file: str | None = None,
    direct: bool = False,
) -> Response:
    """Send one request and return the answer, whatever its status (a 3xx is not followed); raise
    :class:`NetError` when no answer came. ``timeout`` bounds each blocking step (connect, each read);
    ``max_body`` caps the bytes read of the answer (None: all of it); ``ca_file`` replaces the system's CAs for
    https; ``direct`` bypasses the environment's proxies whatever the host (a probe of this machine's own
    daemon on the address it binds)."""
    with _errors(timeout):
        with _open(method, url, body, headers, timeout, ca_file, direct) as (resp, error):
            source = resp if resp is not None else error
            data = _read_body(source, max_body, tolerant=resp is None)
            return Response(source.code if resp is None else resp.status, _headers_of(source), data, url)


class Streamed:
    """An answer read as it arrives (:func:`stream`): its status and headers at once, then its body line by line
    (:meth:`lines`). An answer that is not 2xx has been read whole into :attr:`body`."""

    def __init__(self, status: int, headers: Headers, url: str, resp: Any, body: bytes, timeout: float) -> None:
        self.status = status
        self.headers = headers
        self.url = url
        self.body = body
        self._resp = resp
        self._timeout = timeout

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def redirect(self) -> bool:
        return 300 <= self.status < 400

    def lines(self) -> Iterator[str]:
        """The body's lines (UTF-8, without their line end) as each arrives; :class:`NetError` if the connection
        breaks or a read outlasts the timeout."""
        if self._resp is None:
            yield from self.body.decode("utf-8", "replace").splitlines()
            return
        while True:
            with _errors(self._timeout):
                raw = self._resp.readline()
            if not raw:
                return
            yield raw.decode("utf-8", "replace").rstrip("\r\n")

    def read(self) -> bytes:
        """The rest of the body at once."""
        if self._resp is None:
            return self.body
        with _errors(self._timeout):
            return self._resp.read()


@contextmanager
def stream(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
    max_error_body: int = 65_536,
    ca_file: str | None = None,
) -> Iterator[Streamed]:
    """:func:`request` for an answer read as it arrives (server-sent events): the same rules (no redirect,
    loopback direct, :class:`NetError` when no answer comes); ``timeout`` bounds the connection and each read, not
    the whole answer. A non-2xx answer is read whole (at most ``max_error_body`` bytes). The connection closes
    when the ``with`` block ends."""
    with _errors(timeout):
        opened = _open(method, url, body, headers, timeout, ca_file)
        resp, error = opened.__enter__()
    try:
        if resp is None:
            data = _read_body(error, max_error_body, tolerant=True)
            yield Streamed(error.code, _headers_of(error), url, None, data, timeout)
        else:
            yield Streamed(resp.status, _headers_of(resp), url, resp, b"", timeout)
    finally:
        try:
            opened.__exit__(None, None, None)
        except Exception:
            pass


@contextmanager
def _open(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    timeout: float,
    ca_file: str | None,
    direct: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """(the open answer, None), or (None, the HTTPError that carries a 3xx/4xx/5xx answer)."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    try:
        req = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    except ValueError as exc:
        raise NetError(URL, f"invalid URL ({exc})", exc, timeout) from None
    if req.type not in ("http", "https"):
        raise NetError(URL, f"unsupported URL scheme {req.type!r} (use http or https)", None, timeout)
    opener = _opener(direct=direct or is_loopback(urlsplit(url).hostname), ca_file=ca_file)
    try:
        resp = opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:  # an answer with a status urllib calls an error (3xx, 4xx, 5xx)
        try:
            yield None, exc
        finally:
            exc.close()
        return
    with resp:
        yield resp, None


def _read_body(source: Any, max_body: int | None, *, tolerant: bool) -> bytes:
    try:
        return source.read() if max_body is None else source.read(max_body)
    except Exception:
        if tolerant:  # an error answer whose body cannot be read is still an answer
            return b""
        raise


def _headers_of(source: Any) -> Headers:
    headers = getattr(source, "headers", None)
    return Headers(headers.items() if headers else ())


@contextmanager
def _errors(timeout: float) -> Iterator[None]:
    """No answer, in :class:`NetError`'s words."""
    import urllib.error

    try:
        yield
    except NetError:
        raise
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise NetError(TIMEOUT, f"timed out after {timeout:g}s", reason, timeout) from None
        raise NetError(CONNECT, f"connection failed ({_reason_text(reason)})", reason, timeout) from None
    except TimeoutError as exc:
        raise NetError(TIMEOUT, f"timed out after {timeout:g}s", exc, timeout) from None
    except OSError as exc:
        raise NetError(BROKEN, f"connection failed ({_reason_text(exc)})", exc, timeout) from None
    except Exception as exc:  # http.client's own (a bad status line, a cut body), an invalid header value
        raise NetError(PROTOCOL, f"HTTP error ({type(exc).__name__}: {exc})", exc, timeout) from None


#: Openers by the proxies they use (``()``: none), built once: building one costs more than a local call.
_OPENERS: dict[tuple[tuple[str, str], ...], Any] = {}


def _opener(*, direct: bool, ca_file: str | None) -> Any:
    """An opener without a redirect handler (a 3xx reaches HTTPDefaultErrorHandler: an answer, not a hop) and,
    when ``direct``, without proxies; otherwise with the environment's proxies as they are now (``no_proxy`` is
    read at each call by urllib itself). One with its own ``ca_file`` is built each time (the file may change)."""
    import urllib.request

    proxies = {} if direct else urllib.request.getproxies()
    if ca_file:
        return _build_opener(proxies, ca_file)
    key = tuple(sorted(proxies.items()))
    opener = _OPENERS.get(key)
    if opener is None:
        if len(_OPENERS) >= 8:  # the environment's proxies changed again and again: keep the cache small
            _OPENERS.clear()
        opener = _OPENERS[key] = _build_opener(proxies, None)
    return opener


def _build_opener(proxies: dict[str, str], ca_file: str | None) -> Any:
    import urllib.request

    context = None
    if ca_file:
        import ssl

        context = ssl.create_default_context(cafile=ca_file)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(proxies),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=context),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def retry_after(
    headers: Mapping[str, str] | None, *, now: datetime | None = None, cap: float | None = None
) -> float | None:
    """The wait an answer asks for, in seconds: ``retry-after-ms``, else ``Retry-After`` as seconds or as an HTTP
    date (against ``now``, default the wall clock). Never negative; at most ``cap`` when given; None when the
    answer names no readable wait."""
    if not headers:
        return None
    found = headers if isinstance(headers, Headers) else Headers(headers)
    secs = _number(found.get("retry-after-ms"))
    if secs is not None:
        secs /= 1000.0
    else:
        raw = (found.get("retry-after") or "").strip()
        if not raw:
            return None
        secs = _number(raw)
        if secs is None:
            secs = _until(raw, now)
            if secs is None:
                return None
    secs = max(secs, 0.0)
    return min(secs, cap) if cap is not None else secs


def _number(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return None if value != value else value  # NaN names no wait


def _until(http_date: str, now: datetime | None) -> float | None:
    from datetime import timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return (when - now).total_seconds()

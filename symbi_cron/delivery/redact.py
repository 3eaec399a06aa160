"""Masking secrets in every text delivery shows: receipts, log lines, error messages.

A :class:`Redactor` knows the *values* of the secrets in play for one payload (the expanded tokens, passwords,
auth headers and secret parts of webhook URLs, from the settings, the environment and the job) and replaces
each occurrence with ``***``. Patterns catch what no value list can know: a Slack token or an
``Authorization`` value echoed back by a server, credentials inside a URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from ..envref import env_refs, expand_env

MASK = "***"
#: Shorter values are not masked: masking "a" or "123" would garble every message and protect nothing.
MIN_SECRET_LEN = 4

_PATTERNS = [
    # Slack tokens (bot, user, app, config, refresh).
    re.compile(r"xox[abposre]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    # Slack incoming-webhook paths: /services/T.../B.../secret
    re.compile(r"(?<=/services/)[A-Za-z0-9_/-]+"),
    # An Authorization-style value anywhere in a text.
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(?<=\bbasic )[A-Za-z0-9+/=]{8,}"),
    # user:password@ inside a URL.
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
]

#: Environment variables whose values are always secrets.
SECRET_ENV_VARS = (
    "SYMBI_SLACK_TOKEN",
    "SYMBI_SLACK_WEBHOOK_URL",
    "SYMBI_WEBHOOK_AUTH_HEADER",
    "SYMBI_API_KEY",
)
#: Keys (in a job's ``custom`` map) whose values are treated as secrets.
_SECRET_KEY_RE = re.compile(r"(?i)(url|token|secret|password|passwd|key|auth|credential)")


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be secret: credentials, token-like path segments, query values, the
    whole."""
    out = [url]
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    if parts.password:
        out.append(parts.password)
    if parts.username and parts.password:
        out.append(f"{parts.username}:{parts.password}")
    if parts.path and parts.path != "/":
        out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for seg in parts.path.split("/"):
            # A path segment that looks like a token (long, with digits or mixed case) is a secret.
            if len(seg) >= 8 and (any(c.isdigit() for c in seg) or (seg.lower() != seg and seg.upper() != seg)):
                out.append(seg)
    if parts.query:
        out.append(parts.query)
        out.extend(v for _, v in parse_qsl(parts.query, keep_blank_values=False))
    return out


def describe_url(url: str) -> str:
    """A URL safe to show: scheme, host and port only (paths and queries of webhooks often carry tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}"


class Redactor:
    """Masks known secret values and secret-looking patterns in a text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._values: set[str] = set()
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Add secret values (and their URL-encoded forms); short or empty values are ignored."""
        for v in values:
            if not v or not isinstance(v, str):
                continue
            v = v.strip()
            if len(v) < MIN_SECRET_LEN:
                continue
            self._values.add(v)
            for enc in (quote(v, safe=""), quote_plus(v)):
                if enc != v:
                    self._values.add(enc)
            # An auth header value: its credential alone is a secret too ("Bearer abc" -> "abc").
            scheme, _, cred = v.partition(" ")
            if cred and scheme.isalpha() and len(cred.strip()) >= MIN_SECRET_LEN:
                self._values.add(cred.strip())
        self._ordered = sorted(self._values, key=len, reverse=True)

    def add_url(self, url: str | None) -> None:
        """Add the secret parts of a URL."""
        if url:
            self.add(*url_secrets(url))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for v in getattr(self, "_ordered", ()):
            if v in text:
                text = text.replace(v, MASK)
        for pat in _PATTERNS:
            text = pat.sub(MASK, text)
        return text


def _expand(value: Any, env: Mapping[str, str]) -> str | None:
    if not isinstance(value, str):
        return None
    return expand_env(value, dict(env))


def _referenced_values(text: Any, env: Mapping[str, str]) -> list[str]:
    """Values of the environment variables a ``${VAR}`` text refers to."""
    if not isinstance(text, str):
        return []
    return [env.get(name, "") for name in env_refs(text)]


def build_redactor(job: Mapping[str, Any], settings: Any, env: Mapping[str, str]) -> Redactor:
    """The redactor for one payload: every secret the channels of ``job`` could touch."""
    r = Redactor()
    d = settings.scheduler.delivery
    for value in (d.webhook_auth_header, d.slack_api_token, d.smtp_password):
        r.add(_expand(value, env))
    r.add_url(_expand(d.slack_webhook_url, env))
    for var in SECRET_ENV_VARS:
        val = env.get(var)
        if var.endswith("_URL"):
            r.add_url(val)
        else:
            r.add(val)
    api_key = getattr(getattr(settings, "api", None), "key", None)
    r.add(_expand(api_key, env))
    for cmd in (getattr(settings, "custom_channels", None) or {}).values():
        r.add(*_referenced_values(cmd, env))

    headers = job.get("webhook_headers") or {}
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            expanded = _expand(value, env)
            # Header values are secrets unless they are plainly not (a content type is fine to show).
            if str(name).lower() not in ("content-type", "accept", "user-agent"):
                r.add(expanded)
    r.add_url(_expand(job.get("webhook_url"), env))
    custom = job.get("custom") or {}
    if isinstance(custom, Mapping):
        for key, value in custom.items():
            if isinstance(value, str) and _SECRET_KEY_RE.search(str(key)):
                expanded = _expand(value, env)
                if "url" in str(key).lower():
                    r.add_url(expanded)
                else:
                    r.add(expanded)
            r.add(*_referenced_values(value, env))
    r.add(*_referenced_values(job.get("agent_pin_jwt"), env))
    return r

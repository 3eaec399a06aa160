"""The two model APIs, spoken over HTTP (:mod:`symbi_cron.net`): Anthropic Messages and OpenAI-compatible chat
completions.

The runner keeps a conversation in one neutral shape and each provider translates it to its wire format and
parses its answer back:

- ``{"role": "user", "content": TEXT}``
- ``{"role": "assistant", "content": TEXT, "tool_calls": [{"id", "name", "arguments": {...}}]}``
- ``{"role": "tool", "tool_call_id": ID, "name": NAME, "content": TEXT, "is_error": BOOL}``

so a conversation kept across runs does not depend on the API that produced it.

Which API, where and with which key (:func:`resolve_endpoint`): config ``[models] provider`` when set, else
the model name (``claude*`` -> Anthropic, ``gpt-*``/``o1``/``o3``/``o4``/``chatgpt*`` -> OpenAI), else a
configured ``base_url`` means an OpenAI-compatible local server (llama.cpp, vLLM, Ollama all speak it). The
base URL is ``SYMBI_MODEL_BASE_URL`` or ``[models] base_url`` or the provider's public one; the key is
``[models] api_key`` (usually ``${VAR}``) or ``ANTHROPIC_API_KEY`` / ``OPENAI_API_KEY``. Nothing here logs
or returns a key.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import net

ANTHROPIC = "anthropic"
OPENAI = "openai"
PROVIDERS = (ANTHROPIC, OPENAI)
DEFAULT_BASE = {ANTHROPIC: "https://api.anthropic.com", OPENAI: "https://api.openai.com/v1"}
KEY_ENV = {ANTHROPIC: "ANTHROPIC_API_KEY", OPENAI: "OPENAI_API_KEY"}
ANTHROPIC_VERSION = "2023-06-01"
#: HTTP statuses worth another try: timeouts, conflicts, rate limits, server trouble, Anthropic's
#: "overloaded".
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_CLAUDE_DOTTED = re.compile(r"^(claude-[a-z0-9-]*?\d+)\.(\d+)(.*)$")


class ModelError(Exception):
    """A model call failed. ``retryable`` says whether another attempt may succeed; ``retry_after`` is the
    server's requested wait in seconds (429/503 ``Retry-After``), when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass
class ToolCall:
    """One function call the model asked for. ``arguments`` is None when the model sent invalid JSON."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str | None = None

    def to_message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments if self.arguments is not None else {},
        }


@dataclass
class ModelReply:
    """One answer: its text, the tool calls, why it stopped (``end``, ``tool_use``, ``max_tokens``, ``other``:
    normalised; ``raw_stop`` is the API's word) and the tokens it cost."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop: str = "end"
    raw_stop: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    model: str | None = None

    def to_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_message() for c in self.tool_calls]
        return msg


@dataclass
class Endpoint:
    """Where and how to call: the provider, the full request URL, the key (never printed) and the model id."""

    provider: str
    url: str
    api_key: str | None
    model: str
    anthropic_version: str = ANTHROPIC_VERSION

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "symbi-cron"}
        if self.provider == ANTHROPIC:
            h["anthropic-version"] = self.anthropic_version
            if self.api_key:
                h["x-api-key"] = self.api_key
        elif self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def redact(self, text: str) -> str:
        """``text`` with the key replaced (a server could echo it back in an error)."""
        return text.replace(self.api_key, "********") if self.api_key else text


# -- choosing the endpoint -----------------------------------------------------------------------------------
def provider_for(model: str, configured: str | None, base_url: str | None, env: Mapping[str, str]) -> str:
    """The API a model speaks: the configured provider, else the model name, else what is configured."""
    if configured:
        low = configured.strip().lower()
        if low in ("openai-compatible", "openai_compatible", "local"):
            low = OPENAI
        if low not in PROVIDERS:
            raise ModelError(f"[models] provider: unknown provider {configured!r} (expected anthropic or openai)")
        return low
    name = model.strip().lower()
    if name.startswith("anthropic/"):
        return ANTHROPIC
    if name.startswith("openai/"):
        return OPENAI
    if name.startswith("claude"):
        return ANTHROPIC
    if re.match(r"^(gpt-|chatgpt|o[1-9]\b|o[1-9]-|text-|davinci)", name):
        return OPENAI
    if base_url:
        return OPENAI  # local servers (llama.cpp, vLLM, Ollama) speak the OpenAI chat API
    if env.get(KEY_ENV[ANTHROPIC]) and not env.get(KEY_ENV[OPENAI]):
        return ANTHROPIC
    if env.get(KEY_ENV[OPENAI]):
        return OPENAI
    raise ModelError(
        f"cannot tell which API model {model!r} speaks: set [models] provider (anthropic or openai)"
        " in config.toml, or [models] base_url / SYMBI_MODEL_BASE_URL for an OpenAI-compatible server"
    )


def api_model_name(model: str, provider: str) -> str:
    """The id sent to the API: a ``provider/`` prefix dropped; for Anthropic the guide's dotted spelling
    (``claude-sonnet-4.5``) becomes the API's (``claude-sonnet-4-5``), since Anthropic ids never hold dots."""
    name = model.strip()
    for prefix in ("anthropic/", "openai/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
    if provider == ANTHROPIC:
        m = _CLAUDE_DOTTED.match(name)
        while m:
            name = f"{m.group(1)}-{m.group(2)}{m.group(3)}"
            m = _CLAUDE_DOTTED.match(name)
    return name


def request_url(provider: str, base_url: str) -> str:
    """The full URL: ``{base}/v1/messages`` (Anthropic) or ``{base}/chat/completions`` (OpenAI; a bare host
    gets ``/v1``). A base that already ends in ``/v1`` is not doubled for Anthropic."""
    base = base_url.rstrip("/")
    path = urllib.parse.urlsplit(base).path
    if provider == ANTHROPIC:
        return base + ("/messages" if path.endswith("/v1") else "/v1/messages")
    if path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


def resolve_endpoint(model: str, settings: Any, env: Mapping[str, str]) -> Endpoint:
    """Provider, URL and key for ``model`` from config and environment; ModelError says what is missing."""
    ms = settings.models
    base = env.get("SYMBI_MODEL_BASE_URL") or ms.base_url
    if base:
        base = settings.secret(base, dict(env)) or None
    provider = provider_for(model, env.get("SYMBI_MODEL_PROVIDER") or ms.provider, base, env)
    if base:
        scheme = urllib.parse.urlsplit(base).scheme
        if scheme not in ("http", "https"):
            raise ModelError(f"[models] base_url: expected an http:// or https:// URL, got {base!r}")
    key = settings.secret(ms.api_key, dict(env)) if ms.api_key else None
    key = key or env.get(KEY_ENV[provider]) or None
    if not key and (provider == ANTHROPIC or not base):
        raise ModelError(
            f"no API key for the {provider} API (model {model!r}): set {KEY_ENV[provider]} in the daemon's"
            ' environment, or [models] api_key = "${VAR}" in config.toml'
        )
    version = getattr(ms, "anthropic_version", None) or ANTHROPIC_VERSION
    return Endpoint(
        provider,
        request_url(provider, base or DEFAULT_BASE[provider]),
        key,
        api_model_name(model, provider),
        version,
    )


# -- request bodies ------------------------------------------------------------------------------------------
def build_body(
    ep: Endpoint,
    *,
    system: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    max_tokens: int | None,
    temperature: float | None,
) -> dict[str, Any]:
    """The JSON request for ``ep.provider``. ``tools`` are ``{name, description, parameters}`` (JSON
    schema)."""
    if ep.provider == ANTHROPIC:
        body: dict[str, Any] = {
            "model": ep.model,
            "max_tokens": int(max_tokens or 4096),
            "system": system,
            "messages": to_anthropic(messages),
        }
        if tools:
            body["tools"] = [
                {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]} for t in tools
            ]
    else:
        body = {"model": ep.model, "messages": [{"role": "system", "content": system}, *to_openai(messages)]}
        if max_tokens:
            body["max_tokens"] = int(max_tokens)
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t["name"],
                        "description": t["description"],
                        "parameters": t["parameters"],
                    },
                }
                for t in tools
            ]
    if temperature is not None:
        body["temperature"] = float(temperature)
    return body


def to_anthropic(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages -> Messages API turns: tool results are user turns of ``tool_result`` blocks, and
    consecutive turns of one role are merged (the API wants them alternating)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        blocks: list[dict[str, Any]] = []
        if role == "user":
            if m.get("content"):
                blocks.append({"type": "text", "text": str(m["content"])})
        elif role == "assistant":
            if m.get("content"):
                blocks.append({"type": "text", "text": str(m["content"])})
            for c in m.get("tool_calls") or []:
                blocks.append({"type": "tool_use", "id": c["id"], "name": c["name"], "input": c.get("arguments") or {}})
        elif role == "tool":
            role = "user"
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": m["tool_call_id"],
                "content": str(m.get("content") or ""),
            }
            if m.get("is_error"):
                block["is_error"] = True
            blocks.append(block)
        else:
            continue
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def to_openai(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages -> chat completions messages (after the system message)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "user":
            out.append({"role": "user", "content": str(m.get("content") or "")})
        elif role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.get("content") or None}
            calls = m.get("tool_calls") or []
            if calls:
                msg["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments") or {})},
                    }
                    for c in calls
                ]
            elif msg["content"] is None:
                msg["content"] = ""
            out.append(msg)
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": str(m.get("content") or "")})
    return out


# -- parsing answers -----------------------------------------------------------------------------------------
_ANTHROPIC_STOPS = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
}
_OPENAI_STOPS = {"stop": "end", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}


def parse_reply(ep: Endpoint, data: Any) -> ModelReply:
    """The provider's JSON answer -> :class:`ModelReply`; ModelError when it is not the documented shape."""
    if not isinstance(data, dict):
        raise ModelError(f"{ep.provider} API answered with a JSON {type(data).__name__}, not an object")
    try:
        return _parse_anthropic(data) if ep.provider == ANTHROPIC else _parse_openai(data)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelError(
            f"{ep.provider} API answer is not in the documented shape ({type(exc).__name__}: {exc})"
        ) from None


def _int(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def _parse_anthropic(data: dict[str, Any]) -> ModelReply:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            args = block.get("input")
            calls.append(
                ToolCall(
                    str(block["id"]),
                    str(block["name"]),
                    args if isinstance(args, dict) else None,
                    None if isinstance(args, dict) else json.dumps(args),
                )
            )
    usage = data.get("usage") or {}
    tokens_in = (
        _int(usage.get("input_tokens"))
        + _int(usage.get("cache_creation_input_tokens"))
        + _int(usage.get("cache_read_input_tokens"))
    )
    raw = data.get("stop_reason")
    stop = _ANTHROPIC_STOPS.get(str(raw), "other")
    if calls and stop != "max_tokens":
        stop = "tool_use"
    return ModelReply(
        "\n".join(t for t in texts if t),
        calls,
        stop,
        raw,
        tokens_in,
        _int(usage.get("output_tokens")),
        data.get("model"),
    )


def _parse_openai(data: dict[str, Any]) -> ModelReply:
    choice = data["choices"][0]
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # some servers send content parts
        content = "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    calls: list[ToolCall] = []
    for i, tc in enumerate(message.get("tool_calls") or []):
        fn = tc.get("function") or {}
        raw_args = fn.get("arguments")
        args: dict[str, Any] | None
        if isinstance(raw_args, dict):
            args = raw_args
        else:
            try:
                parsed = json.loads(raw_args) if raw_args not in (None, "") else {}
                args = parsed if isinstance(parsed, dict) else None
            except (TypeError, ValueError):
                args = None
        calls.append(
            ToolCall(
                str(tc.get("id") or f"call_{i}"),
                str(fn.get("name") or ""),
                args,
                raw_args if isinstance(raw_args, str) else None,
            )
        )
    usage = data.get("usage") or {}
    raw = choice.get("finish_reason")
    stop = _OPENAI_STOPS.get(str(raw), "other")
    if calls and stop != "max_tokens":
        stop = "tool_use"
    return ModelReply(
        str(content or ""),
        calls,
        stop,
        raw,
        _int(usage.get("prompt_tokens")),
        _int(usage.get("completion_tokens")),
        data.get("model"),
    )


# -- the HTTP call -------------------------------------------------------------------------------------------
def _error_text(body: bytes) -> str:
    """The server's own error message, from either API's error shape, or the start of the body."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        kind = err.get("type") or err.get("code")
        msg = err.get("message") or ""
        return f"{kind}: {msg}" if kind else str(msg)
    if isinstance(err, str):
        return err[:300]
    return json.dumps(data)[:300]


def call(ep: Endpoint, body: dict[str, Any], *, timeout: float) -> ModelReply:
    """POST one request (through :mod:`symbi_cron.net`: no redirect followed, loopback never proxied) and parse
    the answer. Raises ModelError (``retryable`` for network trouble, timeouts, 429 and 5xx) with a message that
    names the server and never the key."""
    where = _where(ep.url)
    try:
        answer = net.request(
            "POST", ep.url, body=json.dumps(body).encode("utf-8"), headers=ep.headers(), timeout=timeout
        )
    except net.NetError as exc:
        raise _network_error(ep, where, exc) from None
    if not answer.ok:
        raise _status_error(ep, where, answer.status, answer.body, answer.headers, answer.redirect)
    return _parse_json_body(ep, where, answer.body)


def _status_error(ep: Endpoint, where: str, status: int, body: bytes, headers: Any, redirect: bool) -> ModelError:
    detail = _error_text(body)
    msg = f"{ep.provider} API at {where} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        msg += f" (check {KEY_ENV[ep.provider]} or [models] api_key)"
    elif redirect:
        msg += f" ({net.NOT_FOLLOWED}; check [models] base_url)"
    return ModelError(
        ep.redact(msg),
        retryable=status in RETRYABLE_STATUSES,
        retry_after=net.retry_after(headers),
        status=status,
    )


def _parse_json_body(ep: Endpoint, where: str, body: bytes) -> ModelReply:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelError(
            f"{ep.provider} API at {where} answered with something that is not JSON: {body[:120]!r}"
        ) from None
    return parse_reply(ep, parsed)


def _network_error(ep: Endpoint, where: str, exc: net.NetError) -> ModelError:
    """No answer: the text says which API, where, and what happened; all of it is worth another try except a
    URL that cannot be used."""
    if exc.kind == net.TIMEOUT:
        return ModelError(f"{ep.provider} API at {where} did not answer within {exc.timeout:.3g}s", retryable=True)
    if exc.kind == net.CONNECT:
        return ModelError(f"cannot reach the {ep.provider} API at {where}: {exc.reason_text}", retryable=True)
    if exc.kind == net.BROKEN:
        return ModelError(f"connection to the {ep.provider} API at {where} failed: {exc.reason}", retryable=True)
    if exc.kind == net.PROTOCOL:
        return ModelError(ep.redact(f"{ep.provider} API at {where}: {exc}"), retryable=True)
    return ModelError(ep.redact(f"{ep.provider} API at {where}: {exc}"))


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


# -- streaming -----------------------------------------------------------------------------------------------
def stream_body(ep: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    """The request asking for a streamed answer (OpenAI: with the usage in the last chunk)."""
    out = dict(body, stream=True)
    if ep.provider == OPENAI:
        out["stream_options"] = {"include_usage": True}
    return out


def call_streaming(ep: Endpoint, body: dict[str, Any], *, timeout: float, on_delta: Any) -> ModelReply:
    """:func:`call` with a streamed answer: ``on_delta(kind, text)`` hears each piece as it arrives (``text``,
    ``thinking``; ``tool`` with a tool's name when the model starts a call), and the whole answer comes back as
    one :class:`ModelReply`. A server that answers with plain JSON instead (it does not stream) is read as
    :func:`call` reads it. ``timeout`` bounds the connection and the wait for each piece."""
    where = _where(ep.url)
    headers = dict(ep.headers(), Accept="text/event-stream")
    try:
        with net.stream(
            "POST", ep.url, body=json.dumps(stream_body(ep, body)).encode("utf-8"), headers=headers, timeout=timeout
        ) as answer:
            if not answer.ok:
                raise _status_error(ep, where, answer.status, answer.body, answer.headers, answer.redirect)
            kind = (answer.headers.get("content-type") or "").split(";")[0].strip().lower()
            if kind != "text/event-stream":
                return _parse_json_body(ep, where, answer.read())
            events = _sse_events(answer.lines())
            if ep.provider == ANTHROPIC:
                return _anthropic_stream(ep, events, on_delta)
            return _openai_stream(ep, events, on_delta)
    except net.NetError as exc:
        raise _network_error(ep, where, exc) from None


def _sse_events(lines: Any) -> Any:
    """Server-sent events: (event name, data text) per blank-line-terminated event (``data:`` lines joined)."""
    name, data = "", []
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field_name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_name == "event":
            name = value
        elif field_name == "data":
            data.append(value)
    if data:
        yield name, "\n".join(data)


def _event_json(ep: Endpoint, data: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ModelError(f"{ep.provider} API sent a stream event that is not JSON: {data[:120]!r}") from None
    if not isinstance(parsed, dict):
        raise ModelError(f"{ep.provider} API sent a stream event that is not an object: {data[:120]!r}")
    return parsed


def _stream_error(ep: Endpoint, err: Any) -> ModelError:
    """An error event in the middle of a stream (Anthropic's ``overloaded_error``...): worth another try."""
    if isinstance(err, dict):
        text = f"{err.get('type') or err.get('code') or 'error'}: {err.get('message') or ''}"
    else:
        text = str(err)
    return ModelError(ep.redact(f"{ep.provider} API stream ended with an error: {text}"), retryable=True)


def _anthropic_stream(ep: Endpoint, events: Any, on_delta: Any) -> ModelReply:
    """Messages API events (message_start, content_block_start/delta/stop, message_delta, message_stop) -> the
    message :func:`_parse_anthropic` would have read."""
    message: dict[str, Any] = {"content": [], "usage": {}}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, list[str]] = {}
    done = False
    for name, data in events:
        ev = _event_json(ep, data)
        kind = ev.get("type") or name
        if kind == "message_start":
            start = ev.get("message") or {}
            message["model"] = start.get("model")
            message["usage"].update(start.get("usage") or {})
        elif kind == "content_block_start":
            block = dict(ev.get("content_block") or {})
            blocks[int(ev.get("index", len(blocks)))] = block
            if block.get("type") == "tool_use":
                on_delta("tool", str(block.get("name") or ""))
        elif kind == "content_block_delta":
            i = int(ev.get("index", 0))
            block = blocks.setdefault(i, {"type": "text", "text": ""})
            delta = ev.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = str(block.get("text") or "") + str(delta.get("text") or "")
                on_delta("text", str(delta.get("text") or ""))
            elif dtype == "thinking_delta":
                on_delta("thinking", str(delta.get("thinking") or ""))
            elif dtype == "input_json_delta":
                partial.setdefault(i, []).append(str(delta.get("partial_json") or ""))
        elif kind == "message_delta":
            delta = ev.get("delta") or {}
            if delta.get("stop_reason"):
                message["stop_reason"] = delta["stop_reason"]
            message["usage"].update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            done = True
            break
        elif kind == "error":
            raise _stream_error(ep, ev.get("error"))
    if not done:
        raise ModelError(f"{ep.provider} API stream ended before message_stop", retryable=True)
    for i in sorted(blocks):
        block = blocks[i]
        if block.get("type") == "tool_use" and i in partial:
            text = "".join(partial[i])
            try:
                block["input"] = json.loads(text) if text.strip() else {}
            except ValueError:
                block["input"] = text  # invalid JSON from the model: the runner answers it with an error
        message["content"].append(block)
    return parse_reply(ep, message)


def _openai_stream(ep: Endpoint, events: Any, on_delta: Any) -> ModelReply:
    """Chat completions chunks (``data: {choices: [{delta}]}`` ... ``data: [DONE]``) -> the completion
    :func:`_parse_openai` would have read."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    usage: dict[str, Any] = {}
    model = None
    for _name, data in events:
        if data.strip() == "[DONE]":
            break
        chunk = _event_json(ep, data)
        if chunk.get("error"):
            raise _stream_error(ep, chunk["error"])
        model = chunk.get("model") or model
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(str(delta["content"]))
                on_delta("text", str(delta["content"]))
            if delta.get("reasoning_content"):  # some servers stream the model's reasoning apart
                on_delta("thinking", str(delta["reasoning_content"]))
            for tc in delta.get("tool_calls") or []:
                i = int(tc.get("index", len(calls)))
                call = calls.setdefault(i, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                if tc.get("id"):
                    call["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    call["function"]["name"] += str(fn["name"])
                    on_delta("tool", str(fn["name"]))
                if fn.get("arguments"):
                    call["function"]["arguments"] += str(fn["arguments"])
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return parse_reply(ep, {"model": model, "choices": [{"message": message, "finish_reason": finish}], "usage": usage})

"""A real HTTP server on 127.0.0.1 that speaks both model APIs as documented (stands in for the internet).

- ``POST /v1/messages``: the Anthropic Messages API. Checks ``x-api-key`` and ``anthropic-version``, that
  ``model``, ``max_tokens`` and ``messages`` are present, that turns alternate starting with ``user``, and
  that each
  ``tool_result`` answers a ``tool_use`` of the previous assistant turn; answers ``{type: "message", content:
  [text | tool_use blocks], stop_reason, usage: {input_tokens, output_tokens}}`` or ``{type: "error", error:
  {type, message}}``.
- ``POST /v1/chat/completions``: the OpenAI chat completions API. Checks ``Authorization: Bearer``, the
messages
  and that each ``tool`` message answers a ``tool_calls`` id; answers ``{object: "chat.completion", choices:
  [{message: {content, tool_calls}, finish_reason}], usage: {prompt_tokens, completion_tokens}}`` or ``{error:
  {message, type, code}}``.

What it answers comes from a script of :class:`Turn` objects (then from ``responder``, a function of the
request,
then a plain "ok"). Every request is recorded, so tests assert exactly what the runner sent:

    with FakeModelServer(key="k") as srv:
        srv.script(Turn.tool("disk", {"path": "/"}), Turn.say("all good\\nsleep"))
        ... run the agent with base_url srv.url ...
        srv.requests[1].json()["messages"]
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.servers.http_recorder import Recorded, RecordingHTTPServer, Reply

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"


@dataclass
class Turn:
    """One scripted answer: text, tool calls, an HTTP error, a delay before answering."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stop: str | None = None  # override the stop/finish reason
    input_tokens: int | None = None
    output_tokens: int | None = None
    raw_arguments: str | None = None  # OpenAI: send these exact argument bytes (e.g. invalid JSON)
    #: Streamed answers: the rest of the answer waits, after its first line, until this event is set (a test
    #: looks at the run log in the middle of an answer).
    gate: Any = None

    @classmethod
    def say(cls, text: str, **kw: Any) -> Turn:
        return cls(text=text, **kw)

    @classmethod
    def tool(cls, name: str, arguments: dict[str, Any] | None = None, *, text: str = "", **kw: Any) -> Turn:
        return cls(text=text, tool_calls=[(name, arguments or {})], **kw)

    @classmethod
    def error(
        cls,
        status: int,
        error_type: str = "api_error",
        message: str = "something broke",
        *,
        retry_after: str | None = None,
        **kw: Any,
    ) -> Turn:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        return cls(status=status, error_type=error_type, error_message=message, headers=headers, **kw)


@dataclass
class Request(Recorded):
    """One request as the server saw it."""

    @property
    def api(self) -> str:
        """ "anthropic" | "openai" | "unknown" (by the path)."""
        return "anthropic" if self.path == ANTHROPIC_PATH else "openai" if self.path == OPENAI_PATH else "unknown"

    def user_texts(self) -> list[str]:
        """The text of every user turn, in order, whatever the API."""
        out: list[str] = []
        for m in self.json().get("messages", []):
            if m.get("role") != "user":
                continue
            content = m.get("content")
            if isinstance(content, str):
                out.append(content)
            else:
                out.extend(b.get("text", "") for b in content if b.get("type") == "text")
        return out


def _lines(text: str) -> list[str]:
    """The text in pieces that end at line ends (how a model's answer arrives: a few tokens at a time)."""
    return [p for p in text.splitlines(keepends=True) if p]


def _gated(events: list[bytes], turn: Turn):
    """The events, waiting (at most 10 s) on ``turn.gate`` after the first one that carries a line end."""
    waited = turn.gate is None
    for piece in events:
        yield piece
        if not waited and b"\\n" in piece:
            waited = True
            turn.gate.wait(10)


class _Invalid(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class FakeModelServer(RecordingHTTPServer):
    """The recording server (tests/servers/http_recorder.py) answering as the model APIs; ``key`` is the API key
    it accepts (None: any or none). :meth:`script` takes :class:`Turn` objects."""

    record_type = Request

    def __init__(
        self,
        key: str | None = "test-key",
        responder: Callable[[Request], Turn] | None = None,
        host: str = "127.0.0.1",
        *,
        streams: bool = True,
    ) -> None:
        super().__init__(host=host)
        self.key = key
        self.responder = responder
        #: Answer ``"stream": true`` requests with server-sent events, as both APIs do (False: a server that
        #: ignores the flag and answers plain JSON, as some local servers do).
        self.streams = streams

    @property  # type: ignore[override]  # the APIs' paths are fixed: the base URL is what clients are given
    def url(self) -> str:
        return super().url("")

    # -- answering -------------------------------------------------------------------------------------------
    def _answer(self, rec: Recorded) -> Reply:
        status, headers, data = self.handle(rec)  # type: ignore[arg-type]  # record_type makes it a Request
        turn = getattr(rec, "turn", None)
        if status == 200 and self.streams and turn is not None and rec.json().get("stream") is True:
            answer = json.loads(data)
            events = self._anthropic_events(answer) if rec.api == "anthropic" else self._openai_chunks(answer, rec)  # type: ignore[attr-defined]
            return Reply(status, b"", {"Content-Type": "text/event-stream", **headers}, pieces=_gated(events, turn))
        return Reply(status, data, {"Content-Type": "application/json", **headers})

    # -- streaming (the documented event shapes of each API) --------------------------------------------------
    @staticmethod
    def _anthropic_events(answer: dict[str, Any]) -> list[bytes]:
        def ev(kind: str, **data: Any) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        usage = answer["usage"]
        start = {**answer, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        out = [ev("message_start", message=start), ev("ping")]
        for i, block in enumerate(answer["content"]):
            if block["type"] == "text":
                out.append(ev("content_block_start", index=i, content_block={"type": "text", "text": ""}))
                for piece in _lines(block["text"]):
                    out.append(ev("content_block_delta", index=i, delta={"type": "text_delta", "text": piece}))
            else:
                out.append(ev("content_block_start", index=i, content_block={**block, "input": {}}))
                args = json.dumps(block["input"])
                for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                    out.append(
                        ev("content_block_delta", index=i, delta={"type": "input_json_delta", "partial_json": piece})
                    )
            out.append(ev("content_block_stop", index=i))
        out.append(
            ev(
                "message_delta",
                delta={"stop_reason": answer["stop_reason"], "stop_sequence": None},
                usage={"output_tokens": usage["output_tokens"]},
            )
        )
        out.append(ev("message_stop"))
        return out

    @staticmethod
    def _openai_chunks(answer: dict[str, Any], req: Request) -> list[bytes]:
        base = {
            "id": answer["id"],
            "object": "chat.completion.chunk",
            "created": answer["created"],
            "model": answer["model"],
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            body = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return f"data: {json.dumps(body)}\n\n".encode()

        choice = answer["choices"][0]
        message = choice["message"]
        out = [chunk({"role": "assistant", "content": ""})]
        for piece in _lines(message.get("content") or ""):
            out.append(chunk({"content": piece}))
        for k, tc in enumerate(message.get("tool_calls") or []):
            head = {
                "index": k,
                "id": tc["id"],
                "type": "function",
                "function": {"name": tc["function"]["name"], "arguments": ""},
            }
            out.append(chunk({"tool_calls": [head]}))
            args = tc["function"]["arguments"]
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                out.append(chunk({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
        out.append(chunk({}, choice["finish_reason"]))
        if (req.json().get("stream_options") or {}).get("include_usage"):
            out.append(f"data: {json.dumps({**base, 'choices': [], 'usage': answer['usage']})}\n\n".encode())
        out.append(b"data: [DONE]\n\n")
        return out

    def _next_turn(self, req: Request) -> Turn:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
            if self._script:
                return self._script.pop(0)  # type: ignore[return-value]
        if self.responder is not None:
            return self.responder(req)
        return Turn.say("ok")

    def handle(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        api = req.api
        if api == "unknown":
            self._record(req)
            return (
                404,
                {},
                json.dumps({"error": {"message": f"no route {req.path}", "type": "not_found"}}).encode(),
            )
        try:
            data = json.loads(req.body.decode("utf-8"))
            self._check_auth(api, req)
            (self._check_anthropic if api == "anthropic" else self._check_openai)(data)
        except _Invalid as exc:
            self._record(req)
            return exc.status, {}, self._error_body(api, exc.kind, exc.message)
        except ValueError as exc:
            self._record(req)
            return 400, {}, self._error_body(api, "invalid_request_error", f"body is not JSON: {exc}")
        turn = self._next_turn(req)
        req.turn = turn  # type: ignore[attr-defined]  # for a streamed answer (_answer)
        if turn.delay:
            time.sleep(turn.delay)
        if turn.status != 200:
            return turn.status, dict(turn.headers), self._error_body(api, turn.error_type, turn.error_message)
        answer = (
            self._anthropic_answer(data, turn, req.body)
            if api == "anthropic"
            else self._openai_answer(data, turn, req.body)
        )
        return 200, dict(turn.headers), json.dumps(answer).encode("utf-8")

    @staticmethod
    def _error_body(api: str, kind: str, message: str) -> bytes:
        if api == "anthropic":
            return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}}).encode()

    def _check_auth(self, api: str, req: Request) -> None:
        if api == "anthropic":
            if not req.header("anthropic-version"):
                raise _Invalid(400, "invalid_request_error", "anthropic-version: header is required")
            given = req.header("x-api-key")
            if self.key is not None and given != self.key:
                raise _Invalid(401, "authentication_error", "invalid x-api-key")
        else:
            auth = req.header("authorization")
            if self.key is not None and auth != f"Bearer {self.key}":
                raise _Invalid(401, "invalid_api_key", "Incorrect API key provided")

    @staticmethod
    def _check_anthropic(data: dict[str, Any]) -> None:
        for key in ("model", "max_tokens", "messages"):
            if key not in data:
                raise _Invalid(400, "invalid_request_error", f"{key}: Field required")
        msgs = data["messages"]
        if not msgs or msgs[0].get("role") != "user":
            raise _Invalid(400, "invalid_request_error", 'messages: first message must use the "user" role')
        tool_ids: set[str] = set()
        for i, m in enumerate(msgs):
            if m.get("role") not in ("user", "assistant"):
                raise _Invalid(400, "invalid_request_error", f"messages.{i}.role: must be user or assistant")
            if i and msgs[i - 1].get("role") == m.get("role"):
                raise _Invalid(
                    400, "invalid_request_error", "messages: roles must alternate between user and assistant"
                )
            content = m.get("content")
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if not blocks:
                raise _Invalid(400, "invalid_request_error", f"messages.{i}: content must not be empty")
            answered = set()
            for b in blocks:
                if b.get("type") == "text" and not b.get("text"):
                    raise _Invalid(400, "invalid_request_error", f"messages.{i}: text content blocks must be non-empty")
                if b.get("type") == "tool_use":
                    tool_ids.add(b["id"])
                if b.get("type") == "tool_result":
                    if b.get("tool_use_id") not in tool_ids:
                        raise _Invalid(
                            400,
                            "invalid_request_error",
                            f"messages.{i}: unexpected tool_use_id {b.get('tool_use_id')!r}",
                        )
                    answered.add(b["tool_use_id"])
            if m.get("role") == "user" and i and any(b.get("type") == "tool_use" for b in msgs[i - 1]["content"]):
                wanted = {b["id"] for b in msgs[i - 1]["content"] if b.get("type") == "tool_use"}
                if wanted - answered:
                    raise _Invalid(
                        400,
                        "invalid_request_error",
                        f"messages.{i}: tool_use ids without tool_result: {sorted(wanted - answered)}",
                    )
        for t in data.get("tools") or []:
            if set(t) - {"name", "description", "input_schema"} or "input_schema" not in t:
                raise _Invalid(400, "invalid_request_error", f"tools: bad tool {t}")

    @staticmethod
    def _check_openai(data: dict[str, Any]) -> None:
        for key in ("model", "messages"):
            if key not in data:
                raise _Invalid(400, "invalid_request_error", f"Missing required parameter: '{key}'")
        ids: set[str] = set()
        for i, m in enumerate(data["messages"]):
            role = m.get("role")
            if role not in ("system", "developer", "user", "assistant", "tool"):
                raise _Invalid(400, "invalid_request_error", f"messages[{i}].role: invalid value")
            for tc in m.get("tool_calls") or []:
                if tc.get("type") != "function" or not isinstance(tc["function"].get("arguments"), str):
                    raise _Invalid(400, "invalid_request_error", f"messages[{i}].tool_calls: bad shape")
                ids.add(tc["id"])
            if role == "tool" and m.get("tool_call_id") not in ids:
                raise _Invalid(
                    400,
                    "invalid_request_error",
                    f"messages[{i}]: tool message without a preceding tool_calls id",
                )
        for t in data.get("tools") or []:
            if t.get("type") != "function" or "name" not in t.get("function", {}):
                raise _Invalid(400, "invalid_request_error", f"tools: bad tool {t}")

    @staticmethod
    def _tokens(turn: Turn, body: bytes) -> tuple[int, int]:
        tin = turn.input_tokens if turn.input_tokens is not None else max(1, len(body) // 4)
        tout = (
            turn.output_tokens
            if turn.output_tokens is not None
            else max(1, len(turn.text) // 4) + 10 * len(turn.tool_calls)
        )
        return tin, tout

    def _anthropic_answer(self, data: dict[str, Any], turn: Turn, body: bytes) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for name, args in turn.tool_calls:
            content.append({"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": args})
        tin, tout = self._tokens(turn, body)
        return {
            "id": "msg_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": data["model"],
            "content": content,
            "stop_reason": turn.stop or ("tool_use" if turn.tool_calls else "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": tin, "output_tokens": tout},
        }

    def _openai_answer(self, data: dict[str, Any], turn: Turn, body: bytes) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": turn.text or None, "refusal": None}
        if turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": "call_" + uuid.uuid4().hex[:20],
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": turn.raw_arguments if turn.raw_arguments is not None else json.dumps(args),
                    },
                }
                for name, args in turn.tool_calls
            ]
        tin, tout = self._tokens(turn, body)
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:20],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": turn.stop or ("tool_calls" if turn.tool_calls else "stop"),
                }
            ],
            "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
        }

"""One run (or one heartbeat iteration) of a model agent: prompt -> model -> tool calls -> ... -> final text.

:func:`run_model_agent` is the executor's single entry point. It never raises: a missing key, an unreachable
server, a rate limit that outlasts ``max_runtime`` all come back as a :class:`ModelRunResult` with exit code 1
and a message that says what to fix. Transient failures (network errors, timeouts, 408/409/429/5xx/529) are
retried with the server's ``Retry-After`` or a doubling backoff, as long as the wait ends before the run's
deadline. Tools count against the same deadline. The transcript (never a key) goes to the run's log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import retry
from . import conversation, providers
from . import tools as tool_mod
from .providers import ModelError

#: Characters of the final text kept as the run's summary.
SUMMARY_CHARS = 2_000
#: The longest wait between attempts, whatever a server asks (a run without max_runtime still ends).
MAX_RETRY_WAIT = 300.0
#: The wait before a retry when the server names none: 1, 2, 4... s, at most 30 s.
RETRY_BACKOFF = retry.Backoff(1.0, cap=30.0)


@dataclass
class ModelRunResult:
    """What one model run gave. ``usage`` is ``{input_tokens, output_tokens, cost_usd}`` (cost None without a
    configured price); ``timed_out`` is True when the run's deadline (``max_runtime``) ended it."""

    output: str
    summary: str | None
    exit_code: int
    error_message: str | None
    usage: dict[str, Any] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0, "cost_usd": None})
    model_calls: int = 0
    timed_out: bool = False
    tool_calls: int = 0
    interrupted: bool = False
    #: Set when a budget stopped the run before a model call (:meth:`budget.Exceeded.to_json`).
    budget_exceeded: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _Deadline(Exception):
    """The run's max_runtime ran out."""


class _Cancelled(Exception):
    """The supervisor is shutting down."""


class _OverBudget(Exception):
    """A budget does not allow the next model call."""

    def __init__(self, exceeded: Any, message: str) -> None:
        super().__init__(message)
        self.exceeded = exceeded
        self.message = message


class _Log:
    """Writes to the run's log whether it was opened in text or binary mode; never fails the run."""

    def __init__(self, stream: Any, redact: Callable[[str], str]) -> None:
        self.stream = stream
        self.redact = redact

    def __call__(self, text: str) -> None:
        if self.stream is None:
            return
        line = self.redact(text.rstrip("\n")) + "\n"
        try:
            try:
                self.stream.write(line)
            except TypeError:
                self.stream.write(line.encode("utf-8"))
            self.stream.flush()
        except (OSError, ValueError):
            self.stream = None


class _LiveText:
    """A streamed answer into the run log, one whole line at a time (so a secret is masked whole): the first line
    of an answer after ``[assistant]`` (or ``[thinking]``), the next ones as they are, like an answer written at
    once."""

    def __init__(self, write: _Log) -> None:
        self.write = write
        self.kind: str | None = None
        self.buffer = ""
        self.started = False
        self.wrote = False

    def __call__(self, kind: str, text: str) -> None:
        if kind not in ("text", "thinking") or not text:
            return
        if kind != self.kind:
            self.finish()
            self.kind = kind
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            self._line(line)

    def _line(self, line: str) -> None:
        if not self.started:
            line = f"[{'assistant' if self.kind == 'text' else 'thinking'}] {line}"
            self.started = True
        self.write(line)
        self.wrote = self.wrote or self.kind == "text"

    def finish(self) -> None:
        """The last (unterminated) line; the next piece starts a new entry."""
        if self.buffer:
            self._line(self.buffer)
        self.buffer, self.started, self.kind = "", False, None


def _summary_of(text: str) -> str | None:
    """The final text without the heartbeat's ``sleep`` control word (a last line, or its last clause)."""
    from ..sleepword import strip_sleep_line

    lines = text.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        rest = strip_sleep_line(lines[-1])
        lines = lines[:-1] + ([rest] if rest else [])
    body = "\n".join(lines).strip()
    if not body:
        return None
    return body if len(body) <= SUMMARY_CHARS else body[-SUMMARY_CHARS:]


def _tool_env(env: Mapping[str, str], settings: Any, key: str | None) -> dict[str, str]:
    """The tools' environment: the agent's, minus the model API keys (a tool runs what a model chose)."""
    from ..envref import env_refs

    secret_vars = set(providers.KEY_ENV.values()) | set(env_refs(settings.models.api_key or ""))
    return {k: v for k, v in env.items() if k not in secret_vars and not (key and v == key)}


def run_model_agent(
    agent: Mapping[str, Any],
    *,
    input_text: str | None,
    context_dir: Path,
    session_mode: str,
    previous_summary: str | None,
    settings: Any,
    env: Mapping[str, str],
    deadline: float | None,
    log: Any,
    allowed_capabilities: set[str] | frozenset[str] = frozenset(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    cancel: Any = None,
    key_env: Mapping[str, str] | None = None,
    budget: list[Any] | None = None,
    usage_before: Mapping[str, Any] | None = None,
) -> ModelRunResult:
    """Run the model agent once in ``context_dir`` until the model answers without tool calls.

    ``deadline`` is a ``clock()`` instant (from ``max_runtime``; None: no limit); ``env`` is the agent's
    environment (its tools get it, less the model API keys); ``key_env`` is where the configuration's ``${VAR}``
    references and the provider's key variable are read (the supervisor's environment: an agent gets only what
    it declares, its runner reads the key); ``allowed_capabilities`` are the agent's; ``cancel`` (a
    ``threading.Event``) set by a shutdown stops the run between steps (``interrupted``); ``budget`` is a list of
    :class:`~symbi_cron.modelrun.budget.Limit` (or their JSON) checked before each model call, with
    ``usage_before`` (the earlier iterations of a heartbeat wake) counted as this run's.
    """
    name = str(agent.get("name") or "?")
    result = ModelRunResult(output="", summary=None, exit_code=1, error_message=None)
    write = _Log(log, lambda s: s)
    from .mcp import McpSession

    try:
        with McpSession(clock) as mcp:
            return _run(
                agent,
                name,
                result,
                write,
                input_text=input_text,
                context_dir=Path(context_dir),
                session_mode=session_mode,
                previous_summary=previous_summary,
                settings=settings,
                env=env,
                key_env={**(key_env or {}), **env},
                deadline=deadline,
                allowed=set(allowed_capabilities),
                clock=clock,
                sleep=sleep,
                cancel=cancel,
                budget=budget or [],
                usage_before=usage_before or {},
                mcp=mcp,
            )
    except Exception as exc:  # the contract: a run's error, never an exception for the executor
        result.exit_code = 1
        result.error_message = f"model agent {name!r}: internal error: {type(exc).__name__}: {exc}"
        write(f"[symbi] {result.error_message}")
        return result


def _run(
    agent: Mapping[str, Any],
    name: str,
    result: ModelRunResult,
    write: _Log,
    *,
    input_text: str | None,
    context_dir: Path,
    session_mode: str,
    previous_summary: str | None,
    settings: Any,
    env: Mapping[str, str],
    key_env: Mapping[str, str],
    deadline: float | None,
    allowed: set[str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    cancel: Any = None,
    budget: list[Any] = (),  # type: ignore[assignment]
    usage_before: Mapping[str, Any] = {},  # noqa: B006  (read only)
    mcp: Any = None,
) -> ModelRunResult:
    from . import budget as budget_mod
    from .pricing import cost_usd, model_price

    ms = settings.models
    model = str(agent.get("model") or "")
    try:
        ep = providers.resolve_endpoint(model, settings, key_env)
    except ModelError as exc:
        result.error_message = f"model agent {name!r}: {exc.message}"
        write(f"[symbi] {result.error_message}")
        return result
    write.redact = ep.redact
    result.usage["model"] = ep.model  # the model that answered: usage by model (services/usage.py)
    write(
        f"[symbi] model agent {name!r}: {ep.provider} API, model {ep.model}, {providers._where(ep.url)}, "
        f"session {session_mode}"
    )
    try:
        declared = tool_mod.tools_of(agent)
    except ValueError as exc:
        result.error_message = f"model agent {name!r}: {exc}"
        write(f"[symbi] {result.error_message}")
        return result
    by_name = {t.name: t for t in declared}
    schemas = [t.schema() for t in declared]
    if tool_mod.SLEEP_TOOL not in by_name:  # the agent's own tool of that name wins
        schemas.append(tool_mod.sleep_schema())
    tool_env = _tool_env(env, settings, ep.api_key)
    if agent.get("mcp_servers") and mcp is not None:
        from ..envref import expand_env
        from .mcp import McpError

        taken = set(by_name) | {tool_mod.SLEEP_TOOL}
        for server_name, spec in (agent.get("mcp_servers") or {}).items():
            spec = dict(spec, env={k: expand_env(str(v), tool_env) for k, v in (spec.get("env") or {}).items()})
            try:
                started = mcp.start(server_name, spec, cwd=context_dir, env=tool_env, deadline=deadline, taken=taken)
            except McpError as exc:
                result.error_message = f"model agent {name!r}: {exc}"
                write(f"[symbi] {result.error_message}")
                return result
            schemas.extend(t.schema() for t in started)
            write(
                f"[symbi] MCP server {server_name!r}: {len(started)} tool(s): "
                + (", ".join(t.name for t in started) or "none")
            )
    max_tokens = agent.get("max_tokens") or getattr(ms, "max_tokens", None)
    temperature = agent.get("temperature")
    max_steps = int(getattr(ms, "max_steps", 25) or 25)
    keep = getattr(ms, "max_history_chars", 400_000) or 400_000
    messages = conversation.start(context_dir, session_mode, input_text, previous_summary, max_history_chars=keep)
    write(f"[user] {messages[-1]['content']}")
    persistent = session_mode == conversation.SHARED_PERSISTENT
    texts: list[str] = []
    final: str | None = None

    prices = getattr(ms, "prices", {}) or {}
    builtin = bool(getattr(ms, "builtin_prices", True))

    def account(reply: providers.ModelReply) -> None:
        u = result.usage
        u["input_tokens"] += reply.input_tokens
        u["output_tokens"] += reply.output_tokens
        u["cost_usd"] = cost_usd(
            model, u["input_tokens"], u["output_tokens"], prices, aliases=(ep.model,), builtin=builtin
        )

    limits = [b if isinstance(b, budget_mod.Limit) else budget_mod.Limit.from_json(b) for b in budget]
    price = model_price(model, prices, aliases=(ep.model,), builtin=builtin)
    if limits:
        write(_budget_line(limits, model if price is None else None))
    before_tokens = int(usage_before.get("input_tokens") or 0) + int(usage_before.get("output_tokens") or 0)
    before_usd = usage_before.get("cost_usd")
    last: providers.ModelReply | None = None

    def within_budget(calls: int) -> None:
        if not limits:
            return
        u = result.usage
        run_usd = None
        if u["cost_usd"] is not None or before_usd is not None:
            run_usd = float(u["cost_usd"] or 0.0) + float(before_usd or 0.0)
        over = budget_mod.check(
            limits,
            run_tokens=before_tokens + u["input_tokens"] + u["output_tokens"],
            run_usd=run_usd,
            next_tokens=(last.input_tokens + last.output_tokens) if last is not None else 0,
            input_price=price[0] if price is not None else None,
        )
        if over is not None:
            raise _OverBudget(over, over.message(calls))

    try:
        for step in range(1, max_steps + 1):
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            within_budget(step - 1)
            body = providers.build_body(
                ep,
                system=str(agent.get("system_prompt") or ""),
                messages=messages,
                tools=schemas,
                max_tokens=max_tokens,
                temperature=temperature,
            )
            live = _LiveText(write) if getattr(ms, "stream", True) else None
            reply = _call_with_retries(
                ep,
                body,
                settings=settings,
                deadline=deadline,
                clock=clock,
                sleep=sleep,
                cancel=cancel,
                write=write,
                live=live,
            )
            result.model_calls = step
            account(reply)
            last = reply
            messages.append(reply.to_message())
            if reply.text:
                texts.append(reply.text)
                if live is None or not live.wrote:  # a streamed answer is in the log already
                    write(f"[assistant] {reply.text}")
            write(
                f"[symbi] step {step}: stop {reply.raw_stop}, {reply.input_tokens} tokens in, {reply.output_tokens} out"
            )
            if not reply.tool_calls:
                if reply.stop == "max_tokens":
                    write("[symbi] the answer was cut at max_tokens")
                final = reply.text
                break
            slept: providers.ToolCall | None = None
            for call in reply.tool_calls:
                if call.name == tool_mod.SLEEP_TOOL and tool_mod.SLEEP_TOOL not in by_name:
                    slept = call
                    answer = tool_mod.ToolResult("ok: this wake ends here; you will be woken at the next one")
                    write(f"[tool call] {call.name} {json.dumps(call.arguments) if call.arguments else ''}".rstrip())
                    messages.append(_tool_message(call, answer))
                    continue
                answer = _answer_call(
                    call,
                    by_name,
                    mcp=mcp,
                    name=name,
                    cwd=context_dir,
                    env=tool_env,
                    deadline=deadline,
                    allowed=allowed,
                    clock=clock,
                    write=write,
                )
                result.tool_calls += 1
                messages.append(_tool_message(call, answer))
                if answer.deadline_hit:
                    raise _Deadline(f"while tool {call.name!r} ran")
            if slept is not None:
                # The same as answering `sleep` as the last line: the heartbeat ends the wake.
                note = (slept.arguments or {}).get("summary") if isinstance(slept.arguments, dict) else None
                final = "\n".join(t for t in (reply.text, note if isinstance(note, str) else None, "sleep") if t)
                # The turn ends with the model's text, as one without tools would: a kept history stays whole.
                messages.append({"role": "assistant", "content": final})
                write("[symbi] the model called the sleep tool: the wake ends")
                break
            if persistent:
                conversation.save(context_dir, messages, model=model)
        else:
            result.error_message = (
                f"model agent {name!r}: still calling tools after {max_steps} model calls ([models] max_steps); stopped"
            )
    except _OverBudget as exc:
        result.budget_exceeded = exc.exceeded.to_json()
        result.error_message = f"model agent {name!r}: {exc.message}"
    except _Cancelled:
        result.interrupted = True
        result.error_message = f"model agent {name!r}: stopped by the supervisor's shutdown"
    except _Deadline as exc:
        result.timed_out = True
        result.error_message = f"model agent {name!r}: max_runtime reached {exc}"
    except ModelError as exc:
        result.error_message = f"model agent {name!r}: {exc.message}"
    conversation.save(context_dir, messages, model=model)
    u = result.usage
    write(
        f"[symbi] usage: {u['input_tokens']} tokens in, {u['output_tokens']} out"
        + (f", ${u['cost_usd']:.6f}" if u["cost_usd"] is not None else "")
    )
    if final is not None and result.error_message is None:
        result.exit_code = 0
        result.output = final
        result.summary = _summary_of(final)
    else:
        result.output = "\n".join(texts)
        write(f"[symbi] {result.error_message}")
    return result


def _budget_line(limits: list[Any], unpriced: str | None) -> str:
    """``[symbi] budget: job 'digest' per day: 1,200 of 100,000 tokens, $0.0100 of $1; ...`` (spent before
    this run, per limit)."""
    parts = []
    for lim in limits:
        amounts = []
        if lim.tokens is not None:
            amounts.append(f"{lim.used_tokens:,} of {lim.tokens:,} tokens")
        if lim.usd is not None:
            amounts.append(f"${lim.used_usd:.4f} of ${lim.usd:g}")
        parts.append(f"{lim.label}: {', '.join(amounts)}")
    line = "[symbi] budget (spent before this run): " + "; ".join(parts)
    if unpriced and any(lim.usd is not None for lim in limits):
        line += f" (model {unpriced} has no price: its calls add nothing to dollar budgets)"
    return line


def _tool_message(call: providers.ToolCall, answer: tool_mod.ToolResult) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": call.id,
        "name": call.name,
        "content": answer.content,
        "is_error": answer.is_error,
    }


def _answer_call(
    call: providers.ToolCall,
    by_name: dict[str, tool_mod.Tool],
    *,
    mcp: Any = None,
    name: str,
    cwd: Path,
    env: Mapping[str, str],
    deadline: float | None,
    allowed: set[str],
    clock: Callable[[], float],
    write: _Log,
) -> tool_mod.ToolResult:
    write(
        f"[tool call] {call.name} "
        + (json.dumps(call.arguments) if call.arguments is not None else str(call.raw_arguments))
    )
    tool = by_name.get(call.name)
    remote = mcp.tools.get(call.name) if mcp is not None and tool is None else None
    if remote is not None:
        content, is_error, late = mcp.call(remote, call.arguments, agent_name=name, allowed=allowed, deadline=deadline)
        answer = tool_mod.ToolResult(content, is_error=is_error, deadline_hit=late)
    elif tool is None:
        known = ", ".join(sorted([*by_name, *(mcp.tools if mcp is not None else ())])) or "none"
        answer = tool_mod.ToolResult(f"error: there is no tool named {call.name!r} (tools: {known})", is_error=True)
    else:
        answer = tool_mod.run_tool(
            tool,
            call.arguments,
            agent_name=name,
            cwd=cwd,
            env=env,
            deadline=deadline,
            allowed_capabilities=allowed,
            clock=clock,
            raw_arguments=call.raw_arguments,
        )
    write(f"[tool result{' error' if answer.is_error else ''}] {call.name}: {answer.content[:2000]}")
    return answer


def _call_with_retries(
    ep: providers.Endpoint,
    body: dict[str, Any],
    *,
    settings: Any,
    deadline: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    cancel: Any,
    write: _Log,
    live: _LiveText | None = None,
) -> providers.ModelReply:
    """One model call, retried (:mod:`symbi_cron.retry`) on network trouble and retryable statuses after the
    server's Retry-After or 1, 2, 4... s (at most 30 s), while the wait ends before ``deadline``."""
    ms = settings.models
    max_retries = int(getattr(ms, "max_retries", 4))

    def attempt(t: retry.Try) -> providers.ModelReply | retry.Again:
        try:
            timeout = t.timeout(float(ms.timeout_seconds))
            if live is None:
                return providers.call(ep, body, timeout=timeout)
            try:
                return providers.call_streaming(ep, body, timeout=timeout, on_delta=live)
            finally:
                live.finish()
        except ModelError as exc:
            if deadline is not None and clock() >= deadline:
                raise _Deadline(f"while waiting for the model ({exc.message})") from None
            if not exc.retryable:
                raise
            return retry.Again(exc.message, after=exc.retry_after)

    def note(again: retry.Again, attempts: int, wait: float) -> None:
        write(f"[symbi] {again.detail}; retry {attempts} of {max_retries} in {wait:g}s")

    try:
        return retry.run(
            attempt,
            retries=max_retries,
            backoff=RETRY_BACKOFF,
            max_wait=MAX_RETRY_WAIT,
            deadline=deadline,
            clock=clock,
            sleep=sleep,
            cancel=cancel,
            on_retry=note,
        )
    except retry.GaveUp as stop:
        message = stop.last.detail if stop.last is not None else ""
        if stop.why == retry.CANCELLED:
            raise _Cancelled() from None
        if stop.why == retry.EXHAUSTED:
            raise ModelError(f"{message} (gave up after {stop.attempts} attempts)") from None
        if stop.why == retry.TOO_LONG:
            raise ModelError(
                f"{message}; the server asks to wait {stop.wait:g}s, more than the "
                f"{MAX_RETRY_WAIT:g}s symbi waits between attempts"
            ) from None
        if stop.wait is None:  # no time left for an attempt
            raise _Deadline("while waiting for the model") from None
        raise _Deadline(
            f"while waiting to retry: {message}; the next attempt ({stop.wait:g}s away) would start after the deadline"
        ) from None

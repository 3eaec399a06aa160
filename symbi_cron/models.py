"""The data model shared by the CLI, the DSL, the store and the HTTP API (SPEC §4–§6).

Field names here are the public interface: JSON bodies, ``--format json`` output and DSL keys (after the DSL's
``agent`` -> ``agent_id`` and ``cron`` -> ``cron_expr`` renames) all use them.

``JobSpec`` is what a user writes; ``Job`` adds what the scheduler keeps (id, status, counters, times). Inputs
forbid unknown fields so a typo is an error, never a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic import (
    Strict as StrictType,
)

from .vocab import (  # noqa: F401  (re-exported: the vocabulary is part of the model)
    BUILTIN_CHANNELS,
    FAILURE_RUN_STATUSES,
    FINAL_RUN_STATUSES,
    Catchup,
    DeliveryOn,
    JobStatus,
    OnFailure,
    RunStatus,
    SessionMode,
    Trigger,
)

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?!s))?\s*(?:(\d+)\s*s)?\s*$", re.IGNORECASE)


def parse_duration(value: Any, *, field: str = "duration") -> int:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``; raises ValueError naming the problem."""
    if isinstance(value, bool):
        raise ValueError(f'expected a duration such as "5m", got {value!r}')
    if isinstance(value, float) and value.is_integer():  # JSON's 90.0 is the whole number 90
        value = int(value)
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return parse_duration(int(s), field=field)
        m = _DURATION_RE.match(s)
        if m and any(m.groups()):
            h, mi, se = (int(g) if g else 0 for g in m.groups())
            total = h * 3600 + mi * 60 + se
            if total > 0:
                return total
    raise ValueError(f'expected a duration such as "30s", "5m" or "1h30m", got {value!r}')


def format_duration(seconds: int | None) -> str | None:
    """The shortest ``1h30m``-style text for a number of seconds."""
    if seconds is None:
        return None
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else ""]
    return "".join(parts) or "0s"


_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

#: Characters no name or identifier may hold: control characters (C0, DEL, C1) and the Unicode line and paragraph
#: separators. A name reaches logs, tables and headers, where they would forge or break a line.
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
CONTROL_RE = re.compile(f"[{_CONTROL}]")
#: A job's name: text with at least one visible character and no control characters (stored trimmed).
NAME_PATTERN = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"
#: An agent's name, and so a job's ``agent_id``.
AGENT_NAME_PATTERN = r"^[A-Za-z0-9_.@:-]+$"
_AGENT_NAME_RE = re.compile(AGENT_NAME_PATTERN)
AGENT_NAME_RULE = "use letters, digits and - _ . @ : only"


def check_no_control(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first control character (escaped)."""
    m = CONTROL_RE.search(value)
    if m:
        raise ValueError(f"must not contain control characters (found {m.group()!r} at position {m.start()})")
    return value


def _whole_number(value: Any) -> Any:
    """A number of things or seconds: JSON's 3 or 3.0, never "3" or true (a string where a number belongs is a
    mistake to name, not a value to convert)."""
    if isinstance(value, (bool, str)):
        from pydantic_core import PydanticKnownError

        raise PydanticKnownError("int_type")  # pydantic's own error: callers (the DSL) name expected and found
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A boolean field that refuses "true", 1 and the like.
Flag = Annotated[bool, StrictType()]


def _timeout_seconds(cls: type, v: Any) -> Any:
    """A ``timeout`` written as "30s", "5m" or seconds (a tool's, an MCP server's)."""
    return parse_duration(v, field="timeout")


def _command_line(cls: type, v: str) -> str:
    """A command line run without a shell: it must split as a shell would, into at least one word."""
    import shlex

    try:
        argv = shlex.split(v)
    except ValueError as exc:
        raise ValueError(f"cannot be split like a shell would: {exc}") from None
    if not argv:
        raise ValueError("must not be empty")
    return v


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True)


class AllowedHours(Strict):
    """A daily UTC window ``start``..``end`` (``HH:MM``); ``end`` < ``start`` wraps midnight."""

    start: str = Field(json_schema_extra={"pattern": _HHMM_RE.pattern})
    end: str = Field(json_schema_extra={"pattern": _HHMM_RE.pattern})

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not isinstance(v, str) or not _HHMM_RE.match(v):
            raise ValueError(f"expected HH:MM (00:00 to 23:59), got {v!r}")
        return v


_NAMES = {"items": {"type": "string", "pattern": f"^[^{_CONTROL}]*$"}}
#: An HTTP header name (RFC 9110 token), and a value without control characters (a tab is allowed).
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE_CONTROL = "\x00-\x08\x0a-\x1f\x7f"
_HEADERS = {
    "propertyNames": {"pattern": _HEADER_NAME_RE.pattern},
    "additionalProperties": {"type": "string", "pattern": f"^[^{_HEADER_VALUE_CONTROL}]*$"},
}


class Policy(Strict):
    """Checks made before every run (SPEC §9)."""

    require_approval: Flag = False
    approvers: list[str] = Field(default_factory=list, json_schema_extra=_NAMES)
    max_runtime: int | None = Field(default=None, gt=0, description='seconds; written as "30m", "1h" or seconds')
    require_capabilities: list[str] = Field(default_factory=list, json_schema_extra=_NAMES)
    allowed_hours: AllowedHours | None = None
    allowed_environments: list[str] = Field(default_factory=list, json_schema_extra=_NAMES)
    require_agent_pin: Flag | None = Field(
        default=None, description="None means the configured default (SYMBI_AGENTPIN_REQUIRED)"
    )

    @field_validator("max_runtime", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if v is None:
            return None
        return parse_duration(v, field="max_runtime")

    @field_validator("approvers", "require_capabilities", "allowed_environments")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for item in v:
            check_no_control(item)
        return v


class BudgetLimit(Strict):
    """A ceiling on what model calls may spend: tokens (input plus output) and/or US dollars (at the configured or
    built-in prices, docs/model-agents.md). Neither: no limit."""

    tokens: int | None = Field(default=None, ge=1, description="input plus output tokens")
    usd: float | None = Field(default=None, gt=0, description="US dollars, at [models.prices] or the built-in table")

    @field_validator("tokens", mode="wrap")
    @classmethod
    def _whole(cls, v: Any, handler: Any) -> Any:
        return handler(_whole_number(v))


class Budget(Strict):
    """What a model agent's runs of this job may spend (docs/model-agents.md, "Budgets"): a run that reaches a
    limit stops before its next model call, recorded ``budget_exceeded``. Days and months are UTC."""

    per_run: BudgetLimit | None = Field(default=None, description="one run (a heartbeat wake: all its iterations)")
    per_day: BudgetLimit | None = Field(default=None, description="the job's runs of one UTC day")
    per_month: BudgetLimit | None = Field(default=None, description="the job's runs of one UTC calendar month")
    counts_as_failure: Flag = Field(
        default=False,
        description="a budget_exceeded run counts toward retries and dead-letter like a failed one",
    )


class Heartbeat(Strict):
    """The evaluate-act-sleep loop (SPEC §7)."""

    enabled: Flag = False
    context_mode: SessionMode = SessionMode.ephemeral_with_summary
    max_iterations: int = Field(default=10, ge=1, le=100_000)

    @field_validator("max_iterations", mode="wrap")  # wrap, not before: a before validator means "text too"
    @classmethod
    def _whole(cls, v: Any, handler: Any) -> Any:
        return handler(_whole_number(v))


class JobSpec(Strict):
    """What a user declares for a job. ``cron_expr`` or ``at``, exactly one."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["cron_expr"], "properties": {"cron_expr": {"type": "string"}}},
                {"required": ["at"], "properties": {"at": {"type": "string"}}},
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN})
    agent_id: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": AGENT_NAME_PATTERN})
    cron_expr: str | None = Field(
        default=None,
        json_schema_extra={"format": "cron"},
        description="five fields (minute hour day-of-month month day-of-week) or an @macro",
    )
    at: datetime | None = Field(default=None, description="a one-shot's instant: in the future, with an offset")
    timezone: str | None = Field(
        default=None, json_schema_extra={"format": "iana-time-zone"}, description="an IANA name such as Europe/Madrid"
    )
    input: str | None = None
    session_mode: SessionMode = SessionMode.ephemeral_with_summary
    heartbeat: Heartbeat = Field(default_factory=Heartbeat)
    delivery: list[str] = Field(
        default_factory=lambda: ["log_file"],
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"type": "string", "enum": list(BUILTIN_CHANNELS)},
                    {"type": "string", "pattern": f"^custom:[^{_CONTROL}]+$"},
                ]
            }
        },
    )
    webhook_url: str | None = None
    webhook_headers: dict[str, str] = Field(default_factory=dict, json_schema_extra=_HEADERS)
    slack_channel: str | None = Field(default=None, json_schema_extra={"pattern": f"^[^{_CONTROL}]*$"})
    email_recipients: list[str] = Field(default_factory=list, json_schema_extra=_NAMES)
    custom: dict[str, Any] = Field(default_factory=dict)
    delivery_on: DeliveryOn = DeliveryOn.always
    policy: Policy = Field(default_factory=Policy)
    budget: Budget = Field(default_factory=Budget)
    max_concurrent: int = Field(default=1, ge=1, le=1000)
    max_retries: int | None = Field(default=None, ge=0, le=1000)
    retry_backoff_seconds: int = Field(default=60, ge=0, le=86_400 * 7)
    on_failure: OnFailure = OnFailure.dead_letter
    jitter_seconds: int | None = Field(default=None, ge=0, le=86_400)
    catchup: Catchup = Catchup.once
    one_shot: Flag = False
    agent_pin_jwt: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return check_no_control(v)

    @field_validator("max_concurrent", "max_retries", "retry_backoff_seconds", "jitter_seconds", mode="wrap")
    @classmethod
    def _whole(cls, v: Any, handler: Any) -> Any:
        return handler(_whole_number(v))

    @field_validator("webhook_headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _HEADER_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name (letters, digits and !#$%&'*+.^_`|~- only)")
            if re.search(f"[{_HEADER_VALUE_CONTROL}]", value):
                raise ValueError(f"header {name}: the value must not contain control characters (a line break...)")
        return v

    @field_validator("slack_channel")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        return None if v is None else check_no_control(v)

    @field_validator("email_recipients")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        for item in v:
            check_no_control(item)
        return v

    @field_validator("agent_id")
    @classmethod
    def _agent_id(cls, v: str) -> str:
        if not _AGENT_NAME_RE.match(v):
            check_no_control(v)
            raise ValueError(f"{v!r} is not an agent name: {AGENT_NAME_RULE}")
        return v

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        # Without an offset the time is read in the job's time zone, which only the service knows (the
        # configured default applies when the job names none): it stays naive here.
        if isinstance(v, str):
            from .timeutil import parse_iso

            try:
                return parse_iso(v, field="at")
            except Exception as exc:  # re-raised as a pydantic error naming the field
                raise ValueError(getattr(exc, "message", str(exc))) from None
        return v

    @field_validator("delivery")
    @classmethod
    def _delivery(cls, v: list[str]) -> list[str]:
        seen: list[str] = []
        for ch in v:
            if ch not in BUILTIN_CHANNELS and not (ch.startswith("custom:") and len(ch) > 7):
                raise ValueError(
                    f"unknown channel {ch!r} (expected one of {', '.join(BUILTIN_CHANNELS)} or custom:NAME)"
                )
            check_no_control(ch)
            if ch not in seen:
                seen.append(ch)
        return seen

    @model_validator(mode="after")
    def _one_schedule(self) -> JobSpec:
        if (self.cron_expr is None) == (self.at is None):
            raise ValueError("give exactly one of cron_expr and at")
        return self


class Job(JobSpec):
    """A job as the store keeps it."""

    id: str
    status: JobStatus = JobStatus.active
    next_run: datetime | None = None
    last_run: datetime | None = None
    run_count: int = 0
    failure_count: int = 0
    created_at: datetime
    updated_at: datetime


#: Fields of JobSpec a user may change with an update (everything but the identity).
JOB_SPEC_FIELDS = tuple(JobSpec.model_fields)
#: Fields the scheduler owns.
JOB_STATE_FIELDS = ("id", "status", "next_run", "last_run", "run_count", "failure_count", "created_at", "updated_at")


class DeliveryReceipt(BaseModel):
    """The result of sending one run's output to one channel."""

    channel: str
    ok: bool
    detail: str | None = None
    attempts: int = 1
    at: datetime | None = None


class Run(BaseModel):
    """One execution attempt of a job (SPEC §5)."""

    id: str
    job_id: str
    job_name: str | None = None
    trigger: Trigger
    status: RunStatus
    scheduled_for: datetime
    attempt: int = 1
    input: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    execution_time_ms: int | None = None
    exit_code: int | None = None
    output: str | None = None
    summary: str | None = None
    error_message: str | None = None
    iterations: int = 0
    deliveries: list[DeliveryReceipt] = Field(default_factory=list)
    input_tokens: int | None = None  # model agents: tokens sent and received over the run
    output_tokens: int | None = None
    cost_usd: float | None = None  # with a configured [models.prices] entry or a built-in price
    daemon_name: str | None = Field(
        default=None,
        description="where the run ran: the name of the daemon (`[daemon] name`) that started it, or of the host's"
        " home for a foreground `symbi cron run`; null until it starts",
    )
    created_at: datetime | None = None


_TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolSpec(Strict):
    """A tool a model agent may call (function calling): a command run without a shell (SPEC §6)."""

    command: str = Field(min_length=1)
    description: str = Field(min_length=1)
    parameters: dict[str, Any] | None = Field(default=None, description="JSON schema of the arguments")
    timeout: int = Field(default=60, description='seconds; written as "30s", "5m" or seconds')
    capability: str | None = Field(default=None, description="the capability the agent needs to call it")

    _duration = field_validator("timeout", mode="before")(_timeout_seconds)
    _command = field_validator("command")(_command_line)

    @field_validator("parameters")
    @classmethod
    def _schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and v.get("type", "object") != "object":
            raise ValueError('must be a JSON schema of type "object"')
        if v is not None and "type" not in v:
            v = {"type": "object", **v}
        return v


class McpServerSpec(Strict):
    """A stdio Model Context Protocol server whose tools a model agent may call (docs/model-agents.md, "MCP")."""

    command: str = Field(min_length=1, description="the server's command line, run without a shell")
    env: dict[str, str] = Field(default_factory=dict, description="added to the tools' environment; ${VAR} allowed")
    capability: str | None = Field(default=None, description="the capability the agent needs to call its tools")
    tool_capabilities: dict[str, str] = Field(
        default_factory=dict, description="a capability per tool, instead of `capability`"
    )
    timeout: int = Field(default=60, description='seconds per call; written as "30s", "5m" or seconds')

    _duration = field_validator("timeout", mode="before")(_timeout_seconds)
    _command = field_validator("command")(_command_line)


class AgentSpec(Strict):
    """A runnable agent: a command (subprocess) or a model with a system prompt (SPEC §6)."""

    name: str = Field(min_length=1, max_length=200)
    command: str | None = None
    shell: bool = Field(default=False, description="run `command` through /bin/sh -c")
    model: str | None = None
    system_prompt: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    inherit_env: bool = Field(
        default=False,
        description="start from the daemon's whole environment (less the variables the configuration refers to)"
        " instead of cron's minimal one",
    )
    workdir: str | None = None
    agentpin_id: str | None = None
    description: str | None = None
    tools: dict[str, ToolSpec] = Field(default_factory=dict, description="model agents: tools it may call")
    mcp_servers: dict[str, McpServerSpec] = Field(
        default_factory=dict, description="model agents: stdio MCP servers whose tools it may call"
    )
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000, description="model agents: per answer")
    temperature: float | None = Field(default=None, ge=0, le=2, description="model agents: sampling")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _AGENT_NAME_RE.match(v):
            raise ValueError(AGENT_NAME_RULE)
        return v

    @field_validator("capabilities", "env")
    @classmethod
    def _no_control(cls, v: Any) -> Any:
        for item in v:  # capability names, environment variable names
            check_no_control(item)
            if not item:
                raise ValueError("names must not be empty")
        return v

    @model_validator(mode="after")
    def _runnable(self) -> AgentSpec:
        if self.command is None and self.model is None:
            raise ValueError("an agent needs a command, or a model and a system_prompt")
        if self.command is not None and self.model is not None:
            raise ValueError("an agent has a command or a model, not both")
        if self.model is not None and not self.system_prompt:
            raise ValueError("a model agent needs a system_prompt")
        if self.command is not None:  # refused when registered, not at the first run hours later
            if not self.command.strip():
                raise ValueError("the command is empty")
            if not self.shell:
                import shlex

                try:
                    shlex.split(self.command)
                except ValueError as exc:
                    raise ValueError(f"the command cannot be split like a shell would: {exc}") from None
        model_only = self.tools or self.mcp_servers or self.max_tokens is not None or self.temperature is not None
        if self.command is not None and model_only:
            raise ValueError("tools, mcp_servers, max_tokens and temperature are for model agents (not command agents)")
        for tool_name in self.tools:
            if not _TOOL_NAME_RE.match(tool_name):
                raise ValueError(f"tool name {tool_name!r}: use 1 to 64 letters, digits, - and _ only")
        for server_name in self.mcp_servers:
            if not re.match(r"^[A-Za-z0-9_-]{1,32}$", server_name) or "__" in server_name:
                raise ValueError(
                    f"MCP server name {server_name!r}: use 1 to 32 letters, digits, - and _ only (no double _)"
                )
        return self


class Agent(AgentSpec):
    created_at: datetime
    updated_at: datetime


def validation_error(exc: Exception, *, prefix: str = "") -> Exception:
    """Turn a pydantic ValidationError into our InvalidInput naming the first bad field."""
    from pydantic import ValidationError

    from .errors import InvalidInput

    if not isinstance(exc, ValidationError):
        return InvalidInput(str(exc))
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = err.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "is required"
        problems.append({"field": (prefix + loc) if loc else None, "message": msg})
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InvalidInput(f"{first['message']}{more}", field=first["field"], details={"problems": problems})

"""Configuration: ``config.toml`` plus environment overrides -> :class:`Settings` (SPEC §15).

Precedence, lowest first: built-in defaults, ``config.toml``, environment variables (``SYMBI_*``). ``${VAR}``
in a string value is expanded from the environment when the value is *used* (``Settings.secret``), so a secret's
value never needs to be written anywhere. Unknown keys and wrong types are errors naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .envref import (  # noqa: E402,F401  (re-exported: part of the configuration's interface)
    expand_env,
    has_env_ref,
    literal_secret_warnings,
    looks_like_secret,
)
from .errors import ConfigError


class _Section(BaseModel):
    # strict: TOML has types, so `max_jitter_seconds = "30"` is a mistake to name, not a string to convert (a
    # whole number is still taken where a float belongs)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class DeliverySettings(_Section):
    webhook_timeout_seconds: float = Field(default=30, gt=0)
    webhook_retry_attempts: int = Field(default=3, ge=0, le=20)
    webhook_retry_backoff_seconds: float = Field(default=1.0, ge=0)
    webhook_auth_header: str | None = None
    slack_webhook_url: str | None = None
    slack_api_token: str | None = None
    slack_default_channel: str | None = None
    slack_api_base_url: str = "https://slack.com/api"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=30, gt=0)
    smtp_verify: bool = True  # verify the server's TLS certificate (turn off only for a test relay)
    smtp_ca_file: str | None = None  # extra CA bundle (PEM) to verify the SMTP server with
    email_from: str | None = None
    custom_timeout_seconds: float = Field(default=30, gt=0)  # a custom:NAME command's time limit


class SchedulerSettings(_Section):
    tick_interval_seconds: float = Field(default=1, gt=0, le=3600)
    max_jitter_seconds: int = Field(default=0, ge=0, le=86_400)
    max_concurrent_jobs: int = Field(default=10, ge=1, le=10_000)
    enable_metrics: bool = True
    default_max_retries: int = Field(default=3, ge=0, le=1000)
    shutdown_timeout_seconds: float = Field(default=30, ge=0, le=86_400)
    default_timezone: str | None = None
    output_cap_bytes: int = Field(default=65_536, ge=1024)
    kill_grace_seconds: float = Field(default=5, ge=0, le=600)
    #: Runs due within this many seconds are claimed, begun and handed to their owners ahead of time, so at their
    #: time only the agent process starts (a burst of due runs starts on the second); 0: at their time.
    prepare_ahead_seconds: float = Field(default=1, ge=0, le=10)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)


class ApiSettings(_Section):
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    #: False (default): a port that cannot be bound leaves the daemon scheduling without its API (reported by
    #: `daemon start`, `daemon status` and the log); true: the daemon refuses to start without it.
    required: bool = False
    key: str | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: Who a request with the key above acts as: the audit log's actor ("api") and the approver it counts as.
    identity: str = Field(default="api", pattern=r"^[A-Za-z0-9_.@:-]+$")
    #: More keys, each bound to an identity: ``alice = "${ALICE_API_KEY}"``. A request with one acts as
    #: "api:alice" in the audit log and approves as "alice".
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _identities(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for name in v:
            if not re.match(r"^[A-Za-z0-9_.@:-]+$", name):
                raise ValueError(f"{name!r} is not an identity: use letters, digits and - _ . @ : only")
        return v


class AgentPinSettings(_Section):
    domain: str | None = None
    discovery_dir: str | None = None
    trust_bundle: str | None = None
    cache_ttl_seconds: int = Field(default=3600, ge=0)
    clock_skew_seconds: int = Field(default=60, ge=0, le=3600)
    required: bool = False


class ModelPrice(_Section):
    input_per_mtok: float = Field(default=0, ge=0)  # US dollars per million input tokens
    output_per_mtok: float = Field(default=0, ge=0)


class ModelBudget(_Section):
    """``[models.budgets."NAME"]``: what one model may spend per UTC day, over every job (docs/model-agents.md)."""

    tokens_per_day: int | None = Field(default=None, ge=1)  # input plus output tokens
    usd_per_day: float | None = Field(default=None, gt=0)


class ModelSettings(_Section):
    provider: str | None = None  # "anthropic" | "openai"; None: chosen by model name
    base_url: str | None = None
    api_key: str | None = None
    timeout_seconds: float = Field(default=120, gt=0)
    max_tokens: int = Field(default=4096, ge=1, le=1_000_000)  # per answer, unless the agent says otherwise
    max_retries: int = Field(default=4, ge=0, le=100)  # of one model call (429, 5xx, timeouts)
    max_steps: int = Field(default=25, ge=1, le=10_000)  # model calls per run (tool-call rounds)
    max_history_chars: int = Field(default=400_000, ge=1000)  # shared_persistent history kept
    anthropic_version: str = "2023-06-01"
    prices: dict[str, ModelPrice] = Field(default_factory=dict)  # model name or glob -> price
    stream: bool = True  # ask for streamed answers: the run log shows the model's text as it arrives
    builtin_prices: bool = True  # models no [models.prices] entry names take the built-in, dated table
    budgets: dict[str, ModelBudget] = Field(default_factory=dict)  # model name or glob -> daily budget


_STORE_URL = r"^(postgresql://|postgres://|sqlite:).*"


class MetricsSettings(_Section):
    """``[metrics]``: which series ``/metrics`` exports per job (the cardinality rule of docs/api.md)."""

    per_job: Literal["auto", "always", "never"] = "auto"  # per-job series: auto = while jobs <= per_job_max_jobs
    per_job_max_jobs: int = Field(default=500, ge=0, le=1_000_000)  # auto gives every job its series up to this
    histograms: Literal["auto", "always", "never"] = "auto"  # per-job duration histogram (16 series a job)
    histogram_max_jobs: int = Field(default=20, ge=0, le=1_000_000)  # auto gives histograms up to this many jobs
    jobs: list[str] = Field(default_factory=list)  # job name globs that always get per-job series and histogram


class RetentionSettings(_Section):
    """``[retention]``: what the daemon prunes daily and ``symbi store prune`` on demand (docs/operations.md)."""

    enabled: bool = True  # the daemon prunes every interval_hours (symbi store prune works either way)
    interval_hours: float = Field(default=24, gt=0, le=8760)  # how often the daemon prunes
    run_max_age_days: float = Field(default=90, ge=0)  # finished runs older than this go (0: kept)
    runs_per_job: int = Field(default=0, ge=0)  # at most this many finished runs kept per job (0: no limit)
    run_log_max_age_days: float = Field(default=90, ge=0)  # logs/runs files older than this go (0: kept)
    job_log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)  # logs/jobs files rotate past this (0: never)
    job_log_backups: int = Field(default=2, ge=0, le=100)  # rotated job logs kept
    job_log_max_age_days: float = Field(default=90, ge=0)  # job logs not written for this long go (0: kept)
    orphan_contexts: bool = True  # remove the context directories of jobs that no longer exist
    audit_max_age_days: float = Field(default=0, ge=0)  # audit events older than this go, after a checkpoint (0: kept)
    daemon_log_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)  # daemon.log rotates past this (0: never)
    daemon_log_backups: int = Field(default=5, ge=0, le=100)  # rotated daemon logs kept


class DashboardSettings(_Section):
    """``[dashboard]``: the web dashboard the daemon serves beside its API (docs/dashboard.md)."""

    enabled: bool = True  # false: /ui answers 404 and `symbi ui` refuses
    session_hours: float = Field(default=12, gt=0, le=24 * 30)  # a browser's session ends this long after login
    login_link_minutes: float = Field(default=10, gt=0, le=24 * 60)  # a `symbi ui` link works once, within this


#: A daemon's name: what history, the API, metrics and `daemon status --all` show for where a run ran.
DAEMON_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,62}$"


class DaemonSettings(_Section):
    """``[daemon]``: this host's daemon (docs/scaling.md, "Placement")."""

    name: str | None = Field(default=None, pattern=DAEMON_NAME_PATTERN)  # unset: host name + hash of the home


class StoreSettings(_Section):
    url: str | None = Field(default=None, pattern=_STORE_URL)  # a postgresql:// URL shares it (scaling.md)
    lease_seconds: float = Field(default=30, ge=3, le=3600)  # a daemon silent this long is presumed dead
    owner_connections: int = Field(default=10, ge=1, le=1000)  # PostgreSQL connections the run owners hold at once


class Settings(_Section):
    environment: str | None = None
    store: StoreSettings = Field(default_factory=StoreSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    agentpin: AgentPinSettings = Field(default_factory=AgentPinSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    custom_channels: dict[str, str] = Field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("custom_channels", "policies")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        from .models import check_no_control

        for name in v:  # a name reaches job fields, logs and the OpenAPI document
            check_no_control(name)
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str | None) -> str | None:
        from .models import check_no_control

        return None if v is None else check_no_control(v)

    def secret(self, value: str | None, env: dict[str, str] | None = None) -> str | None:
        """A configured value with ``${VAR}`` references expanded: call at the point of use, never store it."""
        if value is None:
            return None
        return expand_env(value, env)

    @property
    def timezone_name(self) -> str:
        """The default zone for jobs that name none."""
        if self.scheduler.default_timezone:
            return self.scheduler.default_timezone
        from .timeutil import local_zone_name

        return local_zone_name()


#: Environment overrides: variable -> (dotted key, type). SPEC §15.
ENV_OVERRIDES: dict[str, tuple[str, type]] = {
    "SYMBI_SCHEDULER_MAX_JITTER": ("scheduler.max_jitter_seconds", int),
    "SYMBI_SCHEDULER_MAX_CONCURRENT": ("scheduler.max_concurrent_jobs", int),
    "SYMBI_SCHEDULER_TICK_INTERVAL": ("scheduler.tick_interval_seconds", float),
    "SYMBI_DEFAULT_TIMEZONE": ("scheduler.default_timezone", str),
    "SYMBI_SLACK_TOKEN": ("scheduler.delivery.slack_api_token", str),
    "SYMBI_SLACK_WEBHOOK_URL": ("scheduler.delivery.slack_webhook_url", str),
    "SYMBI_WEBHOOK_AUTH_HEADER": ("scheduler.delivery.webhook_auth_header", str),
    "SYMBI_AGENTPIN_REQUIRED": ("agentpin.required", bool),
    "SYMBI_AGENTPIN_DOMAIN": ("agentpin.domain", str),
    "SYMBI_API_KEY": ("api.key", str),
    "SYMBI_API_PORT": ("api.port", int),
    "SYMBI_API_BIND": ("api.bind", str),
    "SYMBI_ENV": ("environment", str),
    "SYMBI_MODEL_BASE_URL": ("models.base_url", str),
    "SYMBI_MODEL_PROVIDER": ("models.provider", str),
    "SYMBI_STORE_URL": ("store.url", str),
    "SYMBI_DASHBOARD": ("dashboard.enabled", bool),
}

#: Keys whose values are secrets: masked by ``config show``.
SECRET_KEYS = frozenset(
    {
        "scheduler.delivery.slack_api_token",
        "scheduler.delivery.slack_webhook_url",
        "scheduler.delivery.smtp_password",
        "scheduler.delivery.webhook_auth_header",
        "api.key",
        "models.api_key",
        "store.url",
    }
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(var: str, raw: str, typ: type) -> Any:
    if typ is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"expected true or false, got {raw!r}", field=var)
    if typ in (int, float):
        try:
            return typ(raw)
        except ValueError:
            raise ConfigError(f"expected a number, got {raw!r}", field=var) from None
    return raw


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = data
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _read_toml(path: Path) -> dict[str, Any]:
    from .tomlfile import read_toml

    return read_toml(path)


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err.get("loc", ()))
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    elif str(err.get("type", "")).endswith("_type") and "input" in err:
        given = err["input"]
        kinds = {str: "a string", bool: "a boolean", int: "a whole number", float: "a number", list: "an array"}
        kind = kinds.get(type(given), "a table" if isinstance(given, dict) else type(given).__name__)
        shown = f" {given!r}" if isinstance(given, (str, int, float)) else ""
        msg = f"{msg}, got {kind}{shown}"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    return ConfigError(f"{source}: {key}: {msg}{more}", details={"key": key, "problems": problems})


def load_settings(config_file: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read ``config_file`` (missing is fine) and apply environment overrides."""
    env = dict(os.environ) if env is None else env
    if config_file is None:
        from .paths import resolve

        config_file = resolve(env).config_file
    data = _read_toml(config_file)
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, str(config_file)) from None
    for var, (dotted, typ) in ENV_OVERRIDES.items():
        if var in env:
            _set_dotted(data, dotted, _coerce(var, env[var], typ))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, "environment") from None
    _anchor_paths(settings, config_file.parent)
    if settings.scheduler.default_timezone:
        from .timeutil import load_zone

        try:
            load_zone(settings.scheduler.default_timezone)
        except Exception as exc:
            raise ConfigError(f"{config_file}: scheduler.default_timezone: {getattr(exc, 'message', exc)}") from None
    return settings


#: Settings that name a file or directory: a relative one is taken against the config file's directory, so that
#: it means the same file for the CLI (wherever it runs) and for the daemon (which changes directory).
PATH_KEYS = ("agentpin.discovery_dir", "agentpin.trust_bundle", "scheduler.delivery.smtp_ca_file")


def _anchor_paths(settings: Settings, base: Path) -> None:
    for dotted in PATH_KEYS:
        *parents, key = dotted.split(".")
        node: Any = settings
        for part in parents:
            node = getattr(node, part)
        value = getattr(node, key)
        if not value or has_env_ref(value):
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            setattr(node, key, str((base / path).absolute()))


def unset_env_warnings(settings: Settings, env: dict[str, str] | None = None) -> list[str]:
    """One warning per ``${VAR}`` reference in the settings whose variable is not set in ``env``."""
    from .envref import unset_refs

    out: list[str] = []

    def walk(node: Any, dotted: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{dotted}.{k}" if dotted else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{dotted}[{i}]")
        else:
            for var in unset_refs(node, env):
                what = {
                    "store.url": "the store refuses to connect",
                    "scheduler.delivery.webhook_auth_header": "webhook deliveries fail, naming it",
                    "api.key": "the daemon refuses to start",
                }.get(dotted, "it would be used empty")
                out.append(f"{dotted} refers to ${{{var}}}, which is not set ({what})")

    walk(settings.model_dump(mode="json"), "")
    return out


def masked_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings as a dict, secrets masked (``${VAR}`` references are shown as written)."""
    data = settings.model_dump(mode="json")

    def walk(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            dotted = f"{prefix}{k}"
            if isinstance(v, dict) and dotted != "custom_channels":
                walk(v, dotted + ".")
            elif v is not None and (dotted in SECRET_KEYS or dotted.startswith("api.keys.")) and not has_env_ref(v):
                node[k] = "********"

    walk(data, "")
    return data


def referenced_env(settings: Settings) -> frozenset[str]:
    """Every environment variable the configuration refers to with ``${VAR}`` (the API key, the SMTP password,
    tokens, the store URL...): what an agent never inherits unless it names it in its own ``env``."""
    from .envref import env_refs

    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            names.update(env_refs(node))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(settings.model_dump())
    return frozenset(names)

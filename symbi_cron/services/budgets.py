"""Budgets of model agents' runs (docs/model-agents.md, "Budgets"): what a run may still spend, and what a job
has spent against its budgets.

A job's ``budget`` holds ``per_run``, ``per_day`` and ``per_month`` limits (tokens and/or US dollars);
``[models.budgets."NAME"]`` in config.toml holds a model's daily limit over every job. Days and months are UTC,
like ``symbi usage``. The owner asks :func:`run_limits` as it starts a run and hands the limits to the model
agent's runner, which stops before the model call a limit does not allow (``modelrun/budget.py``): the run is
recorded ``budget_exceeded`` (``services/record.py``). What other runs spend meanwhile is counted when they
finish, so runs of one job or model in flight at once can each spend up to what was left when they started.

No pydantic here: ``symbi cron status`` shows :func:`budget_status` on the CLI's light path (the model budgets
are read from config.toml as plain TOML).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..modelrun import is_model_agent
from ..modelrun.budget import DAY, MODEL_DAY, MONTH, RUN, Limit
from ..store.usage import spent
from ..timeutil import to_ms

#: The job's budget keys, their scope and how they read.
JOB_SCOPES = (("per_run", RUN, "per run"), ("per_day", DAY, "per day"), ("per_month", MONTH, "per month"))


def day_start(now: datetime) -> datetime:
    now = now.astimezone(timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc)


def month_start(now: datetime) -> datetime:
    now = now.astimezone(timezone.utc)
    return datetime(now.year, now.month, 1, tzinfo=timezone.utc)


def api_model(model: str, models_cfg: Mapping[str, Any] | Any, env: Mapping[str, str] | None) -> str:
    """The model id the API is sent (and the store records, ``runs.model``): ``claude-sonnet-4.5`` becomes
    ``claude-sonnet-4-5`` for Anthropic. The name as written when the provider cannot be told."""
    import os

    from ..modelrun import providers

    env = env if env is not None else os.environ

    def get(key: str) -> Any:
        return models_cfg.get(key) if isinstance(models_cfg, Mapping) else getattr(models_cfg, key, None)

    try:
        provider = providers.provider_for(
            model,
            env.get("SYMBI_MODEL_PROVIDER") or get("provider"),
            env.get("SYMBI_MODEL_BASE_URL") or get("base_url"),
            env,
        )
    except providers.ModelError:
        return model
    return providers.api_model_name(model, provider)


def model_budget(model: str, api_name: str, budgets: Mapping[str, Any]) -> tuple[int | None, float | None] | None:
    """(tokens per day, dollars per day) of ``[models.budgets]`` for the model (as written or as the API spells
    it: an exact name wins, then the longest glob), or None."""
    from ..modelrun.pricing import lookup

    for name in (model, api_name):
        entry = lookup(name, budgets or {})
        if entry is not None:
            if isinstance(entry, Mapping):
                tokens, usd = entry.get("tokens_per_day"), entry.get("usd_per_day")
            else:
                tokens, usd = getattr(entry, "tokens_per_day", None), getattr(entry, "usd_per_day", None)
            if tokens is None and usd is None:
                return None
            return (int(tokens) if tokens is not None else None, float(usd) if usd is not None else None)
    return None


def run_limits(
    conn: Any,
    job: Mapping[str, Any],
    agent: Mapping[str, Any] | None,
    *,
    models_cfg: Any,
    env: Mapping[str, str] | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The limits a run of ``job`` starts under, with what each scope already spent (JSON for the runner); [] for a
    command agent or a job and model without budgets."""
    if agent is None or not is_model_agent(agent):
        return []
    limits: list[Limit] = []
    budget = job.get("budget") or {}
    name = str(job.get("name") or "")
    starts = {DAY: day_start(now), MONTH: month_start(now)}
    for key, scope, words in JOB_SCOPES:
        lim = budget.get(key)
        if not lim or (lim.get("tokens") is None and lim.get("usd") is None):
            continue
        used_tokens, used_usd = 0, 0.0
        if scope in starts:
            used = spent(conn, since_ms=to_ms(starts[scope]), job_id=str(job["id"]))
            used_tokens, used_usd = used["tokens"], used["cost_usd"]
        limits.append(Limit(scope, f"job {name!r} {words}", lim.get("tokens"), lim.get("usd"), used_tokens, used_usd))
    model = str(agent.get("model") or "")
    budgets = models_cfg.get("budgets") if isinstance(models_cfg, Mapping) else getattr(models_cfg, "budgets", None)
    if budgets:
        api_name = api_model(model, models_cfg, env)
        daily = model_budget(model, api_name, budgets)
        if daily is not None:
            used = spent(conn, since_ms=to_ms(starts[DAY]), model=api_name)
            limits.append(
                Limit(MODEL_DAY, f"model {api_name} per day", daily[0], daily[1], used["tokens"], used["cost_usd"])
            )
    return [lim.to_json() for lim in limits]


def budget_status(
    conn: Any,
    job: Mapping[str, Any],
    agent: Mapping[str, Any] | None,
    *,
    models_cfg: Any,
    env: Mapping[str, str] | None,
    now: datetime,
    last_run: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What the job spent against each of its budgets: ``[{scope, label, tokens, usd, used_tokens, used_usd}]``
    (``per_run``: the last finished model run). [] without budgets."""
    out = run_limits(conn, job, agent, models_cfg=models_cfg, env=env, now=now)
    for lim in out:
        if lim["scope"] == RUN:
            usage = last_run or {}
            lim["used_tokens"] = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
            lim["used_usd"] = float(usage.get("cost_usd") or 0.0)
    return out


def job_budget_status(app: Any, job: Mapping[str, Any], recent_runs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`budget_status` for ``symbi cron status`` and the API: the model budgets read from config.toml as
    plain TOML (no pydantic on a read command's path)."""
    from ..store import agents as agent_rows
    from ..tomlfile import read_toml

    models_cfg = read_toml(app.paths.config_file).get("models") or {}
    last = next((r for r in recent_runs if r.get("input_tokens") is not None and r.get("finished_at")), None)
    with app.store.read() as conn:
        agent = agent_rows.get(conn, str(job["agent_id"]))
        return budget_status(conn, job, agent, models_cfg=models_cfg, env=app.env, now=app.clock.now(), last_run=last)

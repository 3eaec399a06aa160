"""Model agents (SPEC §6, §7): agents with a ``model`` and a ``system_prompt`` and no ``command``.

The executor calls :func:`run_model_agent` for one run (or one heartbeat iteration). It speaks the Anthropic
Messages API or an OpenAI-compatible chat completions API (``providers``), keeps the conversation in the run's
context directory (``conversation``), runs the agent's declared tools without a shell (``tools``), retries
transient HTTP failures within ``max_runtime`` and accounts tokens and cost (``pricing``).

Heavy modules are imported by the runner only: importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ModelRunResult", "run_model_agent", "is_model_agent"]


def is_model_agent(agent: Any) -> bool:
    """True for an agent that the built-in runner executes (a model and no command)."""
    return bool(agent) and bool(agent.get("model")) and not agent.get("command")


def __getattr__(name: str) -> Any:  # lazy: the executor imports this package on every run
    if name in ("ModelRunResult", "run_model_agent"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)

"""Helpers shared by the model agent tests."""

from __future__ import annotations

import time
from typing import Any

from fake_model_server import FakeModelServer

from symbi_cron.config import ModelSettings, Settings

KEY = "sk-test-0123456789-secret"


class StepClock:
    """Real monotonic time plus whatever ``sleep`` was asked for: retry waits are recorded, not slept."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def make_settings(server: FakeModelServer | None, provider: str | None = None, **models: Any) -> Settings:
    ms = ModelSettings(provider=provider, base_url=server.url if server else None, **models)
    return Settings(models=ms)


def agent(model: str = "claude-sonnet-4.5", **kw: Any) -> dict[str, Any]:
    spec = {
        "name": "monitor",
        "model": model,
        "system_prompt": "You are a monitor. Return 'sleep' when done.",
    }
    spec.update(kw)
    return spec

"""Fixtures for the delivery tests: a DeliveryContext over a private SYMBI_HOME, sample payloads, and the real
test servers of tests/servers (HTTP recorder, Slack-shaped API, aiosmtpd with STARTTLS and AUTH)."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

# The repository root (for `tests.servers`) and this directory (for delivery_samples) are importable whatever
# pytest's import mode. Never put tests/ itself on sys.path: tests/http would shadow the standard library's
# http.
for _dir in (Path(__file__).resolve().parents[2], Path(__file__).resolve().parent):
    if str(_dir) not in sys.path:
        sys.path.append(str(_dir))

from symbi_cron.config import DeliverySettings, Settings  # noqa: E402
from symbi_cron.delivery.base import DeliveryContext  # noqa: E402
from symbi_cron.paths import resolve  # noqa: E402
from tests.servers.http_recorder import RecordingHTTPServer  # noqa: E402
from tests.servers.slack_server import SlackServer  # noqa: E402
from tests.servers.smtp_server import SMTPTestServer  # noqa: E402


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    # aiosmtpd 1.4 sets its own deprecated Session.login_data on every successful AUTH: not our warning.
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Session.login_data is deprecated"))


class Sleeps(list):
    """A sleep function that records the waits instead of waiting (retry tests stay fast and exact)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_ctx(home: Path, clock: Any, sleeps: Sleeps):
    """``make_ctx(env={...}, custom_channels={...}, **delivery_settings) -> DeliveryContext``."""

    def make(
        env: dict[str, str] | None = None,
        custom_channels: dict[str, str] | None = None,
        stdout: Any = None,
        **delivery: Any,
    ) -> DeliveryContext:
        settings = Settings(custom_channels=custom_channels or {})
        settings.scheduler.delivery = DeliverySettings(**delivery)
        return DeliveryContext(
            settings=settings,
            paths=resolve({"SYMBI_HOME": str(home)}),
            clock=clock,
            env=dict(env or {}),
            log=logging.getLogger("symbi_cron.delivery"),
            sleep=sleeps,
            stdout=stdout if stdout is not None else io.StringIO(),
        )

    return make


@pytest.fixture
def http_server():
    with RecordingHTTPServer() as srv:
        yield srv


@pytest.fixture
def slack_server():
    with SlackServer(token="xoxb-test-token", channels=("#ops", "C0123456")) as srv:
        yield srv


@pytest.fixture
def smtp_server(tmp_path: Path):
    with SMTPTestServer(tmp_path / "smtp-cert", users={"symbi-bot": "correct horse"}) as srv:
        yield srv

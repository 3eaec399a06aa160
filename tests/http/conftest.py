"""Fixtures for the HTTP API tests: the real server on an ephemeral port of 127.0.0.1 over a real store in tmp."""

from __future__ import annotations

import pytest
from api_helpers import Http

from symbi_cron.http.server import start_api


@pytest.fixture
def server(app):
    """The API served in-process for ``app`` (fake clock, real store) on a free port."""
    handle = start_api(app, None, port=0)
    yield handle
    handle.close()


@pytest.fixture
def http(server) -> Http:
    return Http(server)

"""A free TCP port on 127.0.0.1 for a real server a test starts (the daemon's API, a database, a receiver)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice; another process could take it before the caller binds)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

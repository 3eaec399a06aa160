"""The job store (SQLite). ``Store`` owns connections and transactions; the modules beside it own the tables."""

from .db import Store

__all__ = ["Store"]

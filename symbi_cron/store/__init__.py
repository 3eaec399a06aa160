"""The job store (SQLite, or PostgreSQL for several daemons), the only place that speaks SQL. ``Store`` owns
connections and transactions; the modules beside it own the tables and hold the queries; ``contract.py`` says what
each operation promises; ``open_store`` picks the backend from ``SYMBI_STORE_URL`` / ``[store] url``."""

from .db import Store
from .factory import open_store

__all__ = ["Store", "open_store"]

"""symbi-cron: a production-grade cron scheduler for AI agents."""

__version__ = "0.1.0"

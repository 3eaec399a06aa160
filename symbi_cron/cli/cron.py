"""``symbi cron``: the scheduler's commands. Each maps to the module that holds it, imported on use."""

from __future__ import annotations

import click

from .lazy import LazyGroup

CRON_COMMANDS = {
    # jobs (cli/cron_jobs.py)
    "list": "symbi_cron.cli.cron_jobs:list_jobs",
    "add": "symbi_cron.cli.cron_jobs:add",
    "update": "symbi_cron.cli.cron_jobs:update",
    "remove": "symbi_cron.cli.cron_jobs:remove",
    "pause": "symbi_cron.cli.cron_jobs:pause",
    "resume": "symbi_cron.cli.cron_jobs:resume",
    "status": "symbi_cron.cli.cron_jobs:status",
    "history": "symbi_cron.cli.cron_jobs:history",
    "reset": "symbi_cron.cli.cron_jobs:reset",
    # cron math (cli/cron_next.py)
    "next": "symbi_cron.cli.cron_next:next_cmd",
    # .symbi files and crontabs (cli/cron_file.py)
    "validate": "symbi_cron.cli.cron_file:validate",
    "import": "symbi_cron.cli.cron_file:import_cmd",
    "export": "symbi_cron.cli.cron_file:export_cmd",
    "apply": "symbi_cron.cli.cron_file:apply_cmd",
    "edit": "symbi_cron.cli.cron_edit:edit",
    # the supervisor (cli/daemon.py, cli/cron_run.py)
    "daemon": "symbi_cron.cli.daemon:daemon",
    "run": "symbi_cron.cli.cron_run:run_job",
    "cancel": "symbi_cron.cli.cron_run:cancel_cmd",
    # approvals (cli/approvals.py)
    "approve": "symbi_cron.cli.approvals:approve",
    "deny": "symbi_cron.cli.approvals:deny",
    "pending": "symbi_cron.cli.approvals:pending",
    # delivery (cli/delivery_cmd.py)
    "test-delivery": "symbi_cron.cli.delivery_cmd:test_delivery",
}


@click.group(cls=LazyGroup, lazy_commands=CRON_COMMANDS)
def cron() -> None:
    """Manage and run scheduled jobs."""

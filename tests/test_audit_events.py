"""Every audit event the code writes can be asked for by its type (``symbi audit query --type``)."""

from __future__ import annotations

from symbi_cron.services import agents, audit, jobs, runs


def test_every_written_event_type_can_be_queried(app):
    agents.add_agent(app, {"name": "reporter", "command": "true"})
    jobs.create_job(app, {"name": "nightly", "agent_id": "reporter", "cron_expr": "0 3 * * *"})
    runs.queue_manual(app, "nightly")
    jobs.delete_job(app, "nightly")
    agents.remove_agent(app, "reporter")
    for written in ("AgentRegistered", "CronJobTriggered", "AgentRemoved"):
        assert [e["type"] for e in audit.query_events(app, types=[written])] == [written]


def test_the_known_types_include_the_lifecycle_events():
    from symbi_cron.services.record import DEAD_LETTERED, EXECUTED

    for written in (
        EXECUTED,
        DEAD_LETTERED,
        jobs.FAILED,
        jobs.COMPLETED,
        runs.TRIGGERED,
        agents.AGENT_REGISTERED,
        agents.AGENT_REMOVED,
    ):
        assert audit.event_type(written) == written

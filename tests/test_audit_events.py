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


def test_the_known_types_are_the_vocabulary():
    from symbi_cron.vocab import EVENT_TYPES, Event

    assert list(EVENT_TYPES) == [e.value for e in Event]
    for written in Event:
        assert audit.event_type(written) == written
    assert audit.event_type("cronjobexecuted") == Event.job_executed  # a type is found whatever its case

"""Every command's --help, read as a newcomer would: the wording is consistent across the command tree."""

from __future__ import annotations

import click

from symbi_cron.cli.completion import Node, command_tree


def _walk(node: Node):
    yield node
    for sub in node.commands.values():
        yield from _walk(sub)


def _leaves() -> list[Node]:
    return [n for n in _walk(command_tree()) if not n.is_group]


def test_format_help_names_only_the_formats_the_command_offers():
    """`--format [table|json]` must not promise csv; `config show --format [toml|json]` must not say table."""
    seen = 0
    for node in _leaves():
        for opt in node.options():
            if "--format" not in opt.opts or not isinstance(opt.type, click.Choice):
                continue
            seen += 1
            help_text = opt.help or ""
            for word in ("table", "json", "csv", "toml"):
                if word in help_text:
                    assert word in opt.type.choices, f"{node.key} --format help mentions {word}: {help_text!r}"
            for choice in opt.type.choices if len(opt.type.choices) > 1 else ():
                assert choice in help_text, f"{node.key} --format help omits {choice}: {help_text!r}"
    assert seen > 20


def test_every_job_argument_says_what_it_accepts():
    """A JOB argument is an id, an id prefix or a name: each command taking one says so, in the same words."""
    takers = []
    for node in _leaves():
        if any(isinstance(p, click.Argument) and p.name == "job" for p in node.command.params):
            takers.append(node.key)
            assert "JOB is a job id, id prefix or name" in " ".join((node.command.help or "").split()), node.key
    assert {
        "symbi cron status",
        "symbi cron history",
        "symbi cron pause",
        "symbi cron run",
        "symbi cron remove",
        "symbi cron update",
        "symbi cron test-delivery",
    } <= set(takers)


def test_optional_job_argument_shows_as_optional_in_usage():
    """`cron remove` takes JOB or --name: its usage line must not present JOB as required."""
    node = command_tree().commands["cron"].commands["remove"]
    usage = node.command.get_usage(node.ctx)
    assert "[JOB]" in usage, usage

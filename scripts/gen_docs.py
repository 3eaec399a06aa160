#!/usr/bin/env python3
"""Generate completions/, symbi_cron/man/man1/ and docs/cli.md from the click tree, and the tables of
docs/configuration.md from the Settings model.

    python scripts/gen_docs.py           rewrite every generated file
    python scripts/gen_docs.py --check   exit 1 listing the files that are stale (what the tests run)

The output depends only on the command tree, the settings model and the package version: no dates, sorted
everywhere, so a rerun on an unchanged tree changes nothing.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from symbi_cron import __version__  # noqa: E402
from symbi_cron.cli import completion  # noqa: E402
from symbi_cron.cli.completion import Node, command_tree, short_help  # noqa: E402

MAN_DIR = "symbi_cron/man/man1"  # package data: pip installs them to share/man/man1, the zipapp carries them
CLI_DOC = "docs/cli.md"
CONFIG_DOC = "docs/configuration.md"


# -- help text -----------------------------------------------------------------------------------------------
def paragraphs(text: str | None) -> list[tuple[bool, str]]:
    """A click help text as paragraphs: (verbatim, text). ``\\b`` marks a verbatim paragraph, ``\\f`` ends help."""
    text = inspect.cleandoc(text or "").split("\f")[0]
    out: list[tuple[bool, str]] = []
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        lines = block.split("\n")
        if lines[0].strip() == "\b":
            body = inspect.cleandoc("\n".join(lines[1:]))
            out.append((True, body))
        else:
            out.append((False, " ".join(" ".join(lines).split())))
    return out


def usage(node: Node) -> str:
    """``symbi cron add [OPTIONS]``: the node's whole path and click's usage pieces."""
    return " ".join([*node.path, *node.command.collect_usage_pieces(node.ctx)])


def option_records(node: Node) -> list[tuple[str, str]]:
    """(names and metavar, help with default) for each visible option, as ``--help`` shows them."""
    records = []
    for opt in node.options():
        rec = opt.get_help_record(node.ctx)
        if rec:
            records.append((rec[0], " ".join(rec[1].split())))
    return records


def top_pages(tree: Node) -> list[Node]:
    """The top-level commands: each gets its own man page ``symbi-NAME.1``."""
    return [tree.commands[n] for n in sorted(tree.commands)]


# -- roff ----------------------------------------------------------------------------------------------------
def roff(text: str) -> str:
    """Text escaped for roff: backslashes, hyphens (real minus signs for options), leading dots and quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))


def roff_paragraphs(text: str | None) -> list[str]:
    out = []
    for verbatim, body in paragraphs(text):
        if verbatim:
            out += [".PP", ".RS 4", ".nf", roff(body), ".fi", ".RE"]
        else:
            out += [".PP", roff(body)]
    return out


def roff_options(records: Iterable[tuple[str, str]]) -> list[str]:
    out = []
    for names, help_ in records:
        out += [".TP", f".B {roff(names)}", roff(help_) if help_ else ""]
    return [line for line in out if line != ""]


def _th(name: str) -> str:
    return f'.TH {roff(name.upper())} 1 "" "symbi {__version__}" "symbi manual"'


def man_root(tree: Node) -> str:
    """symbi(1): synopsis, global options, the command list, environment, files and exit codes."""
    from symbi_cron.config import ENV_OVERRIDES

    first, *rest = paragraphs(tree.command.help) or [(False, "")]
    lines = [
        _th("symbi"),
        ".SH NAME",
        f"symbi \\- {roff(first[1].removeprefix('symbi: '))}",
        ".SH SYNOPSIS",
        f".B symbi\n{roff(' '.join(tree.command.collect_usage_pieces(tree.ctx)))}",
        ".SH DESCRIPTION",
    ]
    for verbatim, body in rest:
        lines += [".PP", ".nf", roff(body), ".fi"] if verbatim else [".PP", roff(body)]
    lines += [".SH OPTIONS", *roff_options(option_records(tree)), ".SH COMMANDS"]
    for sub in top_pages(tree):
        lines += [
            ".TP",
            f".B {roff(' '.join(sub.path))}",
            f"{roff(short_help(sub.command))} See",
            f".BR {roff('-'.join(sub.path))} (1).",
        ]
    lines += [
        ".SH ENVIRONMENT",
        ".TP",
        ".B SYMBI_HOME",
        "Holds everything (store, config.toml, logs, contexts, daemon files) when set.",
        ".TP",
        ".B SYMBI_DEBUG",
        "Show the traceback of an unexpected error.",
    ]
    for var in sorted(ENV_OVERRIDES):
        lines += [
            ".TP",
            f".B {roff(var)}",
            f"Overrides \\fB{roff(ENV_OVERRIDES[var][0])}\\fR of config.toml.",
        ]
    lines += [
        ".SH FILES",
        "Without SYMBI_HOME the store lives in the user data directory",
        "(\\fI~/.local/share/symbi/symbi.db\\fR on Linux) and the configuration in",
        "\\fI~/.config/symbi/config.toml\\fR.",
        ".SH EXIT STATUS",
        ".TP\n.B 0\nSuccess.",
        ".TP\n.B 1\nFailure (a run failed, the store cannot be read, an internal error).",
        ".TP\n.B 2\nUsage error or invalid input.",
        ".TP\n.B 3\nNot found.",
        ".TP\n.B 4\nConflict or invalid state.",
        ".TP\n.B 5\nThe daemon is not running where one is needed.",
        ".SH SEE ALSO",
        ",\n".join(f".BR {roff('-'.join(s.path))} (1)" for s in top_pages(tree)),
    ]
    return "\n".join(lines) + "\n"


def man_page(node: Node) -> str:
    """symbi-NAME(1): the top-level command ``node`` and every command below it."""
    name = "-".join(node.path)
    lines = [
        _th(name),
        ".SH NAME",
        f"{roff(name)} \\- {roff(short_help(node.command).rstrip('.'))}",
        ".SH SYNOPSIS",
        f".B {roff(' '.join(node.path))}",
        roff(" ".join(node.command.collect_usage_pieces(node.ctx))),
        ".SH DESCRIPTION",
        *roff_paragraphs(node.command.help),
    ]
    records = option_records(node)
    if records:
        lines += [".SH OPTIONS", *roff_options(records)]
    below = [n for n in node.walk() if n is not node]
    if below:
        lines.append(".SH COMMANDS")
        for sub in below:
            lines += [f'.SS "{roff(usage(sub))}"', *roff_paragraphs(sub.command.help)]
            lines += roff_options(option_records(sub))
    lines += [".SH SEE ALSO", ".BR symbi (1)"]
    return "\n".join(lines) + "\n"


# -- markdown ------------------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_paragraphs(text: str | None) -> list[str]:
    out = []
    for verbatim, body in paragraphs(text):
        if verbatim:
            # Examples made of symbi commands are checked by tests/shipping/test_docs_commands.py.
            lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
            # Commands only: a line with an aligned second column ("symbi x   does y") is a listing, not a command.
            commands = lines and all(ln.startswith("symbi ") and "  " not in ln for ln in lines)
            fence = "sh" if commands else "text"
            out += [f"```{fence}", "\n".join(lines) if fence == "sh" else body, "```", ""]
        else:
            out += [body, ""]
    return out


def cli_markdown(tree: Node) -> str:
    """docs/cli.md: every command with its usage, help and options."""
    out = [
        "# CLI reference",
        "",
        "<!-- Generated from the command tree by scripts/gen_docs.py: do not edit by hand. -->",
        "",
        f"Every command of `symbi` {__version__}, as `symbi COMMAND --help` shows it. "
        "The same text is in the man pages (`man symbi`, `man symbi-cron`, ...).",
        "",
    ]
    for node in tree.walk():
        out += [f"{'#' * min(len(node.path) + 1, 6)} {' '.join(node.path)}", ""]
        out += ["```text", f"Usage: {usage(node)}", "```", ""]
        out += md_paragraphs(node.command.help)
        records = option_records(node)
        if records:
            out += ["| Option | Description |", "| --- | --- |"]
            out += [f"| `{_md_cell(n)}` | {_md_cell(h)} |" for n, h in records]
            out.append("")
        if node.commands:
            out += ["| Command | Description |", "| --- | --- |"]
            out += [
                f"| `{' '.join(c.path)}` | {_md_cell(short_help(c.command))} |"
                for _n, c in sorted(node.commands.items())
            ]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# -- configuration tables ------------------------------------------------------------------------------------
#: What each key means; a key missing here shows an empty description (add it here when you add a setting).
CONFIG_HELP: dict[str, str] = {
    "environment": "The environment name policies check (`allowed_environments`); `SYMBI_ENV` overrides.",
    "scheduler.tick_interval_seconds": "Longest sleep of the tick loop between checks for due slots.",
    "scheduler.max_jitter_seconds": "Default maximum random delay before a scheduled run (a job may override).",
    "scheduler.max_concurrent_jobs": (
        "Runs in flight at once across all jobs (on a shared PostgreSQL store, across every daemon); due runs beyond"
        " it wait in order."
    ),
    "scheduler.enable_metrics": "Serve Prometheus metrics at `/metrics`.",
    "scheduler.default_max_retries": "Consecutive failures before a job is dead-lettered, for jobs naming none.",
    "scheduler.shutdown_timeout_seconds": "How long SIGTERM waits for in-flight runs before interrupting them.",
    "scheduler.default_timezone": "IANA zone of jobs that name none (unset: the machine's local zone).",
    "scheduler.output_cap_bytes": "Output kept on a run record; the full text stays in the run's log file.",
    "scheduler.kill_grace_seconds": "Time between TERM and KILL when a run is stopped (max_runtime, shutdown).",
    "scheduler.prepare_ahead_seconds": (
        "Runs due within this many seconds are claimed and handed to their owners ahead of time, which start each"
        " agent's process, hold it just before its exec and release it at the exact instant: a burst starts on the"
        " second. An edit in that last moment applies from the next run; a pause up to 0.2 s before the slot still"
        " stops it. 0: claimed at their time."
    ),
    "scheduler.delivery.webhook_timeout_seconds": "Time limit of one webhook POST.",
    "scheduler.delivery.webhook_retry_attempts": "Retries of a failed webhook delivery.",
    "scheduler.delivery.webhook_retry_backoff_seconds": "First wait between webhook retries (doubles each time).",
    "scheduler.delivery.webhook_auth_header": "Authorization header sent with webhooks (use `${ENV}`).",
    "scheduler.delivery.slack_webhook_url": "Slack incoming-webhook URL (a secret: use `${ENV}`).",
    "scheduler.delivery.slack_api_token": "Slack bot token for `chat.postMessage` (a secret: use `${ENV}`).",
    "scheduler.delivery.slack_default_channel": "Channel used when a job names no `slack_channel`.",
    "scheduler.delivery.slack_api_base_url": "Slack Web API base URL.",
    "scheduler.delivery.smtp_host": "SMTP server for the email channel.",
    "scheduler.delivery.smtp_port": "SMTP port.",
    "scheduler.delivery.smtp_username": "SMTP login.",
    "scheduler.delivery.smtp_password": "SMTP password (a secret: use `${ENV}`).",
    "scheduler.delivery.smtp_starttls": "Upgrade the SMTP connection with STARTTLS.",
    "scheduler.delivery.smtp_ssl": "Connect with implicit TLS (port 465) instead of STARTTLS.",
    "scheduler.delivery.smtp_timeout_seconds": "Time limit of one SMTP session.",
    "scheduler.delivery.smtp_verify": "Verify the SMTP server's TLS certificate (turn off only for a test relay).",
    "scheduler.delivery.smtp_ca_file": "Extra CA bundle (PEM) to verify the SMTP server with (relative: to"
    " config.toml's directory).",
    "scheduler.delivery.email_from": "From address of the email channel.",
    "scheduler.delivery.custom_timeout_seconds": "Time limit of a `custom:NAME` channel's command.",
    "store.owner_connections": (
        "On PostgreSQL: the most connections the run owners of this `SYMBI_HOME` hold at once. An owner connects"
        " only while it talks to the store (a prepared run's last check, the record, lease renewals, deliveries) and"
        " waits for a free one when all are taken, so a burst of any size holds at most this many, beside the"
        " daemon's own few. Keep the sum over the daemons sharing a server well under its `max_connections`."
    ),
    "daemon.name": "This daemon's name, on its lease and on every run it starts (history, API, metrics, `daemon"
    " status --all`); unset: the host name and a hash of the data directory. Needs a restart.",
    "api.enabled": "Serve the HTTP API from the daemon.",
    "api.bind": "Address the API listens on; a non-loopback address is your explicit choice (no TLS here).",
    "api.port": "API port (0 picks a free one).",
    "api.required": "Refuse to start when the API cannot be bound (default: schedule without it, and say so).",
    "api.key": "Bearer key of the API (a secret: use `${ENV}`); unset: generated into `api.key`.",
    "api.max_body_bytes": "Largest request body the API accepts.",
    "api.identity": "Who a request with `key` acts as: the approver it counts as for `approvers` policies; the"
    " audit log's actor stays `api`.",
    "api.keys": 'More keys, each bound to an identity (`alice = "${ALICE_API_KEY}"`): a request with one approves as'
    " `alice` and is audited as `api:alice`. Masked by `symbi config show`.",
    "agentpin.domain": "Expected issuer domain of AgentPin credentials.",
    "agentpin.discovery_dir": "Directory of offline discovery documents, one `{domain}.json` each (relative: to"
    " config.toml's directory).",
    "agentpin.trust_bundle": "A file holding several discovery documents (relative: to config.toml's directory).",
    "agentpin.cache_ttl_seconds": "How long a fetched discovery document is trusted.",
    "agentpin.clock_skew_seconds": "Tolerance on `exp`, `nbf` and `iat`.",
    "agentpin.required": "Make `require_agent_pin` the default of every job.",
    "models.provider": "`anthropic` or `openai` (unset: chosen from the model name).",
    "models.base_url": "Base URL of the model API (an OpenAI-compatible server, a proxy).",
    "models.api_key": "Model API key (a secret: use `${ENV}`).",
    "models.timeout_seconds": "Time limit of one model API call.",
    "models.anthropic_version": "The `anthropic-version` header sent to the Anthropic Messages API.",
    "custom_channels": '`NAME = "command"`: the `custom:NAME` delivery channels (payload on stdin).',
    "policies": "Named policies (`[policies.NAME]` tables) that API clients reference by `policy_ids`.",
}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(annotation)):
        return f"{_type_name(args[0])}, optional" if len(args) == 1 else " or ".join(_type_name(a) for a in args)
    if origin is dict:
        inner = typing.get_args(annotation)[1]
        return "table of tables" if typing.get_origin(inner) is dict else f"table of {_type_name(inner)}s"
    if origin is typing.Literal:
        return "string"
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}s"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, "value")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (dict, list)):
        return "empty" if not value else f"`{value}`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def _bounds(field: Any) -> str:
    if typing.get_origin(field.annotation) is typing.Literal:
        return ", ".join(f"`{v}`" for v in typing.get_args(field.annotation))
    parts = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:,}".replace(",", "_"))
    return ", ".join(parts)


def _field_comments(model: Any) -> dict[str, str]:
    """The trailing ``# comment`` of each field line in the model's source: the fallback description."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    found = re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, re.M)
    return {name: text.strip() for name, text in found}


def _settings_rows(model: Any, prefix: str = "") -> list[tuple[str, list[tuple[str, Any, Any]]]]:
    """(TOML table name, [(key, field, model)]) for the model and each nested section, depth first in model order."""
    from pydantic import BaseModel

    own, nested = [], []
    for key, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            nested += _settings_rows(ann, f"{prefix}{key}.")
        else:
            own.append((f"{prefix}{key}", field, model))
    return ([(prefix.rstrip("."), own)] if own else []) + nested


def settings_markdown() -> str:
    """The table of every configuration key, its type, default, bounds and environment override."""
    from symbi_cron.config import ENV_OVERRIDES, SECRET_KEYS, Settings

    env_for = {dotted: var for var, (dotted, _t) in ENV_OVERRIDES.items()}
    out: list[str] = []
    for table, rows in _settings_rows(Settings):
        out += [f"### `[{table}]`" if table else "### Top level", ""]
        out += [
            "| Key | Type | Default | Allowed | Environment | Meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for dotted, field, model in rows:
            key = dotted.rsplit(".", 1)[-1]
            meaning = CONFIG_HELP.get(dotted) or _field_comments(model).get(key, "")
            if meaning and not meaning.endswith("."):
                meaning = meaning[0].upper() + meaning[1:] + "."
            if not meaning:
                print(
                    f"warning: {dotted} has no description: add it to CONFIG_HELP in scripts/gen_docs.py",
                    file=sys.stderr,
                )
            if dotted in SECRET_KEYS:
                meaning += " Masked by `symbi config show`."
            env = f"`{env_for[dotted]}`" if dotted in env_for else ""
            out.append(
                f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {_bounds(field)} | {env} "
                f"| {_md_cell(meaning.strip())} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def env_markdown() -> str:
    """The table of environment variables that override config.toml."""
    from symbi_cron.config import ENV_OVERRIDES

    out = ["| Variable | Overrides | Type |", "| --- | --- | --- |"]
    names = {
        bool: "boolean (`true`/`false`, `1`/`0`, `yes`/`no`)",
        int: "integer",
        float: "number",
        str: "string",
    }
    for var in sorted(ENV_OVERRIDES):
        dotted, typ = ENV_OVERRIDES[var]
        out.append(f"| `{var}` | `{dotted}` | {names.get(typ, typ.__name__)} |")
    return "\n".join(out) + "\n"


def fill_regions(text: str, regions: dict[str, Callable[[], str]], path: str) -> str:
    """Replace the body between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->`` markers."""
    for name, make in regions.items():
        pattern = re.compile(
            rf"(<!-- generated: {re.escape(name)} [^>]*-->\n).*?(<!-- end generated: {re.escape(name)} -->)",
            re.S,
        )
        if not pattern.search(text):
            raise SystemExit(f"{path}: missing the markers of the generated region {name!r}")
        body = make()
        text = pattern.sub(lambda m, body=body: m.group(1) + "\n" + body + "\n" + m.group(2), text)
    return text


# -- driver --------------------------------------------------------------------------------------------------
def outputs(root: Path = ROOT) -> dict[str, str]:
    """Every generated file (relative path -> content) for the current tree."""
    tree = command_tree()
    tables = completion.tables(tree)
    files = {path: completion.RENDERERS[shell](tables) for shell, path in completion.FILES.items()}
    files[f"{MAN_DIR}/symbi.1"] = man_root(tree)
    for node in top_pages(tree):
        files[f"{MAN_DIR}/{'-'.join(node.path)}.1"] = man_page(node)
    files[CLI_DOC] = cli_markdown(tree)
    config_doc = root / CONFIG_DOC
    if config_doc.exists():
        files[CONFIG_DOC] = fill_regions(
            config_doc.read_text(encoding="utf-8"),
            {"settings": settings_markdown, "environment": env_markdown},
            CONFIG_DOC,
        )
    return files


def stale_man_pages(root: Path, wanted: Iterable[str]) -> list[str]:
    """Pages in symbi_cron/man/ for commands that no longer exist."""
    wanted = set(wanted)
    return sorted(
        f"{MAN_DIR}/{p.name}" for p in (root / MAN_DIR).glob("symbi*.1") if f"{MAN_DIR}/{p.name}" not in wanted
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1 if any; write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root
    files = outputs(root)
    stale = [
        p
        for p, text in sorted(files.items())
        if not (root / p).exists() or (root / p).read_text(encoding="utf-8") != text
    ]
    extra = stale_man_pages(root, files)
    if args.check:
        for p in stale:
            print(f"stale: {p}")
        for p in extra:
            print(f"stale: {p} (no such command any more)")
        if stale or extra:
            print("run: python scripts/gen_docs.py", file=sys.stderr)
            return 1
        return 0
    for p in stale:
        target = root / p
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[p], encoding="utf-8")
        print(f"wrote {p}")
    for p in extra:
        (root / p).unlink()
        print(f"removed {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The conversation a model agent keeps in its context directory, per session mode (SPEC §7).

The file is ``conversation.json`` (0600) in the run's context directory, in the neutral message shape of
``providers``. What a run starts with follows from the directory the session gave it:

- ``shared_persistent``: the job's one directory, kept for its life, so the whole history is loaded and the
  new turn is appended to it. The history already holds what the previous runs said, so no summary is added.
- ``ephemeral_with_summary``: a fresh directory; the first message carries the previous run's summary.
- ``fully_ephemeral``: a fresh directory, nothing handed over: the input alone.

A long history is trimmed from the oldest whole turn (a user text message and everything after it up to the
next one), so tool calls and their results always stay together and the history still starts with a user
message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FILE_NAME = "conversation.json"
VERSION = 1
SHARED_PERSISTENT = "shared_persistent"
EPHEMERAL_WITH_SUMMARY = "ephemeral_with_summary"
FULLY_EPHEMERAL = "fully_ephemeral"
#: What the model is told when a run has no input text.
DEFAULT_PROMPT = "Scheduled run: carry out your task now."
SUMMARY_HEADER = "Summary of the previous run:"


def path_in(context_dir: Path) -> Path:
    return context_dir / FILE_NAME


def load(context_dir: Path) -> list[dict[str, Any]]:
    """The stored messages; an unreadable or foreign file starts a fresh history (and is kept aside)."""
    p = path_in(context_dir)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        _set_aside(p)
        return []
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        _set_aside(p)
        return []
    return messages


def _set_aside(p: Path) -> None:
    try:
        p.replace(p.with_name(p.name + ".corrupt"))
    except OSError:
        pass


def save(context_dir: Path, messages: list[dict[str, Any]], *, model: str) -> None:
    """Write the history atomically (0600)."""
    from ..paths import write_private

    write_private(
        path_in(context_dir),
        json.dumps({"version": VERSION, "model": model, "messages": messages}, ensure_ascii=False, indent=1),
    )


def first_message(input_text: str | None, session_mode: str, previous_summary: str | None) -> str:
    """The user message that opens this run."""
    text = (input_text or "").strip() or DEFAULT_PROMPT
    if session_mode == EPHEMERAL_WITH_SUMMARY and previous_summary and previous_summary.strip():
        return f"{SUMMARY_HEADER}\n{previous_summary.strip()}\n\n{text}"
    return text


def start(
    context_dir: Path,
    session_mode: str,
    input_text: str | None,
    previous_summary: str | None,
    *,
    max_history_chars: int,
) -> list[dict[str, Any]]:
    """The messages this run sends first: the kept history (shared_persistent only) plus the opening turn."""
    history = load(context_dir) if session_mode == SHARED_PERSISTENT else []
    history = _drop_dangling(history)
    history.append({"role": "user", "content": first_message(input_text, session_mode, previous_summary)})
    return trim(history, max_history_chars)


def _drop_dangling(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run that died mid-turn may leave tool calls without results: cut the history back to the last turn
    that ended with the model's text."""
    end = len(messages)
    while end > 0:
        last = messages[end - 1]
        if last.get("role") == "assistant" and not last.get("tool_calls"):
            break
        end -= 1
    return list(messages[:end])


def _size(m: dict[str, Any]) -> int:
    return len(json.dumps(m, ensure_ascii=False))


def trim(messages: list[dict[str, Any]], max_chars: int) -> list[dict[str, Any]]:
    """Drop the oldest whole turns until the history fits ``max_chars`` (the newest turn always stays)."""
    starts = [i for i, m in enumerate(messages) if m.get("role") == "user" and "tool_call_id" not in m]
    total = sum(_size(m) for m in messages)
    cut = 0
    for s in starts[1:]:
        if total <= max_chars:
            break
        total -= sum(_size(m) for m in messages[cut:s])
        cut = s
    return list(messages[cut:])

"""How a heartbeat wake ends: the agent's last line (or a model's last answer) says ``sleep``, as people write it.

Shared by the run's execution (``runtime/execute.py``) and the model runner (``modelrun/runner.py``).
"""

from __future__ import annotations

import re

# Quotes and markdown people (and models) put around a word: 'sleep', "sleep", `sleep`, **sleep**, _sleep_.
_WRAP = "*_`'\"\u201c\u201d\u2018\u2019\u00ab\u00bb~"
#: ``sleep`` ending a line: alone (after list or quote markers such as ``- `` or ``> ``), or as the line's last
#: clause after ``;``, ``:``, ``,``, ``.``, ``!``, ``?``, a dash. Wrapped in quotes or markdown, any case, with a
#: final ``.`` or ``!``. Not inside a sentence: "I will sleep" or "time to sleep" are not the control word.
_SLEEP_END = re.compile(
    rf"(?:^[\s>#\-+{re.escape(_WRAP)}]*|(?P<sep>[;:,.!?\u2014\u2013]|\s-)[\s{re.escape(_WRAP)}]*)"
    rf"sleep[{re.escape(_WRAP)}]*[.!]*[{re.escape(_WRAP)}]*\s*$",
    re.IGNORECASE,
)


def is_sleep_line(line: str) -> bool:
    """True when ``line`` ends the wake: ``sleep``, ``Sleep.``, ``'sleep'``, ``**sleep**``, `` `sleep` ``, or a
    line whose last clause is one of them (``Nothing to do; sleep``, ``All checks pass. Sleep.``)."""
    return _SLEEP_END.search(line.strip()) is not None


def strip_sleep_line(line: str) -> str:
    """``line`` without its ``sleep`` clause (``Nothing to do; sleep`` -> ``Nothing to do``; a line that is only
    the word -> ``""``); the line as is when it does not end in one."""
    text = line.strip()
    m = _SLEEP_END.search(text)
    if m is None:
        return text
    keep = m.start() + (1 if m.group("sep") in (".", "!", "?") else 0)
    return text[:keep].rstrip()

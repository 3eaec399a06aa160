"""An editor for `symbi cron edit` tests, run as $EDITOR: each call takes the next step of a JSON script.

    FAKE_EDITOR_STEPS=/path/steps.json   [{"replace": ["old", "new"]}, {"exit": 1}, {"append": "text"}, {}]

A step may also say {"expect": "text"}: the call fails (exit 3) unless the file it was given contains it. Every
file it was given is appended to FAKE_EDITOR_STEPS + ".seen" (separated by a line of ====).
"""

import json
import os
import sys


def main() -> int:
    steps_path = os.environ["FAKE_EDITOR_STEPS"]
    path = sys.argv[-1]
    with open(steps_path, encoding="utf-8") as fh:
        steps = json.load(fh)
    step = steps.pop(0) if steps else {}
    with open(steps_path, "w", encoding="utf-8") as fh:
        json.dump(steps, fh)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    with open(steps_path + ".seen", "a", encoding="utf-8") as fh:
        fh.write(text + "\n====\n")
    if "expect" in step and step["expect"] not in text:
        return 3
    if "exit" in step:
        return int(step["exit"])
    if "replace" in step:
        old, new = step["replace"]
        if old not in text:
            return 4
        text = text.replace(old, new)
    if "append" in step:
        text += step["append"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

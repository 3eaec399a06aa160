"""Exactly once in effect, with more points: SIGKILL a real daemon at N random moments under a mixed workload
(recurring slots, one-shots, manual runs, webhook deliveries), restarting it each time, and count from the agents'
own records (tests/agents/campaign.py; tests/runtime/test_crash_campaign.py runs the same with 30).

    python bench/crash_campaign.py [--kills 100] [--seed N]

Targets (issue 13): 0 started twice, 0 overlapping, 0 lost, 0 dead-lettered or interrupted by the kills, every
one-shot completed once, every delivery sent and its receipt stored.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agents.campaign import run_campaign  # noqa: E402
from servers.http_recorder import RecordingHTTPServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="symbi-campaign-"))
    with RecordingHTTPServer() as hook:
        report = run_campaign(
            work / "home",
            work / "marks",
            hook.url("/hook"),
            lambda: list(hook.requests),
            kills=args.kills,
            seed=args.seed,
        )
    if args.json:
        print(json.dumps({**report.__dict__, "problems": report.problems()}, indent=2))
    else:
        print(report.summary())
        for what, items in report.problems().items():
            print(f"  {what}: {len(items)}: {', '.join(items[:10])}")
    sys.exit(1 if report.problems() else 0)


if __name__ == "__main__":
    main()

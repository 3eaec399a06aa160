"""Warm start-up of the zipapp beside the installed command: median wall time of `symbi --version` and
`symbi cron list` (store of 100 jobs) run as the installed console script and as `python3 -I dist/symbi.pyz`
(target: the zipapp within 1.5x). Warm: one run first extracts shiv's cache and fills the page cache.

    ./zipapp.sh && python bench/startup_zipapp.py [--runs 30] [--pyz dist/symbi.pyz] [--jobs 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from startup import median_ms  # bench/ is on sys.path when this script runs

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--pyz", type=Path, default=REPO / "dist" / "symbi.pyz")
    args = ap.parse_args()
    if not args.pyz.exists():
        sys.exit(f"{args.pyz} does not exist: run ./zipapp.sh first")
    symbi = shutil.which("symbi", path=str(Path(sys.executable).parent)) or "symbi"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base_python = Path(sys.base_prefix) / "bin" / f"python{version}"
    python = str(base_python if base_python.exists() else sys.executable)
    home = Path(tempfile.mkdtemp(prefix="symbi-bench-"))
    env = {**os.environ, "SYMBI_HOME": str(home), "SYMBI_DEFAULT_TIMEZONE": "UTC"}
    for i in range(args.jobs):
        subprocess.run(
            [
                symbi,
                "cron",
                "add",
                "--json",
                f'{{"name": "job-{i:04d}", "agent_id": "a", "cron_expr": "{i % 60} * * * *"}}',
            ],
            env=env,
            capture_output=True,
            check=True,
        )
    pyz = [python, "-I", str(args.pyz.resolve())]
    rows = [
        (
            "python -c pass",
            median_ms([sys.executable, "-c", "pass"], env, args.runs),
            median_ms([python, "-I", "-c", "pass"], env, args.runs),
        )
    ]  # the interpreters alone
    for label, argv in (("--version", ["--version"]), ("cron list", ["cron", "list"])):
        installed = median_ms([symbi, *argv], env, args.runs)
        zipped = median_ms([*pyz, *argv], env, args.runs)
        rows.append((label, installed, zipped))
    shutil.rmtree(home, ignore_errors=True)
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, median wall time, {args.jobs} jobs in the store")
    print(f"zipapp: {args.pyz.resolve().name} ({args.pyz.resolve().stat().st_size / 1e6:.1f} MB)")
    print(f"installed: {symbi}; zipapp: {python} -I (the first row is each interpreter alone)")
    print(f"{'command':<15} {'installed':>10} {'zipapp':>10} {'ratio':>7}")
    for label, installed, zipped in rows:
        flag = "" if zipped <= 1.5 * installed or label.startswith("python") else "  (over the 1.5x target)"
        print(f"{label:<15} {installed:>8.1f}ms {zipped:>8.1f}ms {zipped / installed:>6.2f}x{flag}")


if __name__ == "__main__":
    main()

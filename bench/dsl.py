"""DSL parser speed: MB/s on generated .symbi files of 1, 5 and 10 MB (linear time = a flat MB/s column).

Run: .venv/bin/python bench/dsl.py [--sizes 1,5,10]

Three figures per size:
* "lex": the tokenizer alone;
* "syntax": tokenizer + recursive-descent parser (dsl.parse_syntax);
* "full": dsl.parse, which also validates every block through the pydantic models and the cron engine.
The generated file mixes agents with multi-line prompts, schedules with nested policy and heartbeat blocks,
maps, lists and comments. Each figure is the best of 3 runs.
"""

from __future__ import annotations

import argparse
import time

AGENT = '''agent worker-{i} {{
  command: "/usr/local/bin/job.sh --id {i} --mode \\"full\\""
  capabilities: ["fs_read", "net"]  // what it may touch
  env: {{ "TOKEN": "${{TOKEN_{i}}}", MODE: "full" }}
}}

agent thinker-{i} {{
  model: "claude-sonnet-4.5"
  system_prompt: """
    You check system {i}.
    Return 'sleep' when done.
    """
}}

'''
SCHEDULE = """schedule {{
  name: "job-{i}"
  agent: "worker-{i}"
  cron: "{cron}"   # the schedule
  timezone: "Europe/Madrid"
  delivery: ["log_file", "webhook"]
  webhook_url: "https://hooks.example.com/{i}"
  webhook_headers: {{
    "Authorization": "Bearer ${{HOOK_KEY}}"
    "X-Job": "{i}"
  }}
  heartbeat: {{ enabled: false, max_iterations: 20 }}
  policy {{
    max_runtime: "30m"
    allowed_hours: {{ start: "00:00", end: "04:00" }}
    require_capabilities: ["fs_read"]
  }}
  max_concurrent: 2
}}

"""
CRONS = ["0 3 * * *", "*/15 * * * *", "0 9 * * MON-FRI", "@hourly", "30 2 1 * *", "0 0 L * *"]


def generate(size: int) -> str:
    """A valid .symbi text of at least ``size`` bytes."""
    parts: list[str] = []
    total = 0
    i = 0
    while total < size:
        chunk = AGENT.format(i=i) + SCHEDULE.format(i=i, cron=CRONS[i % len(CRONS)])
        parts.append(chunk)
        total += len(chunk.encode())
        i += 1
    return "".join(parts)


def best_of(fn, text: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,5,10", help="sizes in MB, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from symbi_cron import dsl

    print(f"{'size':>6} {'blocks':>8} {'lex MB/s':>9} {'syntax MB/s':>12} {'full MB/s':>10} {'full s':>8}")
    for mb in (float(s) for s in args.sizes.split(",")):
        text = generate(int(mb * 1024 * 1024))
        real_mb = len(text.encode()) / (1024 * 1024)
        blocks = len(dsl.parse_syntax(text))
        lex = best_of(dsl.tokenize, text, args.runs)
        syntax = best_of(dsl.parse_syntax, text, args.runs)
        full = best_of(dsl.parse, text, args.runs)
        print(
            f"{real_mb:5.1f}M {blocks:8d} {real_mb / lex:9.1f} {real_mb / syntax:12.1f}"
            f" {real_mb / full:10.2f} {full:8.2f}"
        )


if __name__ == "__main__":
    main()

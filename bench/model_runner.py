"""The model runner's own cost per run, against the fake model server on 127.0.0.1 (no real model: this
measures symbi's overhead, not a model's latency).

    .venv/bin/python bench/model_runner.py [RUNS]      # default 200

Prints, per API: mean and p95 milliseconds of a one-call run (prompt -> answer), of a run with one tool call
(prompt -> tool_use -> tool run -> answer: two model calls and one subprocess), and of a shared_persistent run
whose history already holds 200 turns; plus the import time of symbi_cron.modelrun.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "modelrun")]

from fake_model_server import FakeModelServer, Turn  # noqa: E402

from symbi_cron.config import ModelSettings, Settings  # noqa: E402
from symbi_cron.modelrun import conversation, run_model_agent  # noqa: E402

KEY = "bench-key"


def _stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    return f"mean {statistics.mean(samples):6.2f} ms   p95 {p95:6.2f} ms"


def bench(srv: FakeModelServer, provider: str, model: str, runs: int) -> None:
    settings = Settings(models=ModelSettings(provider=provider, base_url=srv.url))
    agent = {
        "name": "bench",
        "model": model,
        "system_prompt": "Be brief.",
        "tools": {"now": {"command": "true", "description": "nothing"}},
    }
    env = {"ANTHROPIC_API_KEY": KEY, "OPENAI_API_KEY": KEY, "PATH": "/usr/bin:/bin"}
    with tempfile.TemporaryDirectory() as tmp:

        def one(mode: str = "fully_ephemeral", ctx: Path | None = None) -> float:
            t = time.perf_counter()
            res = run_model_agent(
                agent,
                input_text="go",
                context_dir=ctx or Path(tmp),
                session_mode=mode,
                previous_summary=None,
                settings=settings,
                env=env,
                deadline=None,
                log=io.StringIO(),
                allowed_capabilities=set(),
            )
            assert res.ok, res.error_message
            return (time.perf_counter() - t) * 1000

        srv.responder = lambda req: Turn.say("done")
        plain = [one() for _ in range(runs)]
        tool = []
        for _ in range(runs):
            srv.script(Turn.tool("now"))
            tool.append(one())
        shared = Path(tmp) / "shared"
        shared.mkdir()
        conversation.save(
            shared,
            [
                m
                for i in range(200)
                for m in (
                    {"role": "user", "content": f"question {i} " + "x" * 200},
                    {"role": "assistant", "content": f"answer {i} " + "y" * 200},
                )
            ],
            model=model,
        )
        history = []
        for _ in range(max(10, runs // 10)):
            history.append(one("shared_persistent", shared))
    print(f"{provider:9}  one call          {_stats(plain)}")
    print(f"{provider:9}  one tool call     {_stats(tool)}")
    print(f"{provider:9}  200-turn history  {_stats(history)}")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import symbi_cron.modelrun"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stderr.splitlines()
    own = [ln for ln in out if ln.rstrip().endswith("symbi_cron.modelrun")]
    print(f"import symbi_cron.modelrun: {own[-1].split('|')[1].strip() if own else '?'} us cumulative")
    with FakeModelServer(key=KEY) as srv:
        bench(srv, "anthropic", "claude-sonnet-4.5", runs)
        bench(srv, "openai", "gpt-4o", runs)


if __name__ == "__main__":
    main()

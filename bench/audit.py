"""Audit log costs: appending events, `symbi audit verify` over the whole chain, a filtered `audit query`, and one
AgentPin verification (cached discovery document from discovery_dir).

    python bench/audit.py [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = dict(os.environ, SYMBI_HOME=str(home))
        from symbi_cron.paths import resolve
        from symbi_cron.store import Store
        from symbi_cron.store.audit import append_event

        paths = resolve(env)
        store = Store(paths.db, paths.lock)
        t0 = time.perf_counter()
        base = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
        batch = 1000
        for start in range(0, args.events, batch):
            with store.write() as tx:
                for i in range(start, min(start + batch, args.events)):
                    append_event(
                        tx,
                        at_ms=base + i * 60_000,
                        type="CronJobFailed" if i % 10 == 0 else "CronJobExecuted",
                        actor="daemon",
                        job_id=f"job-{i % 50}",
                        job_name=f"job-{i % 50}",
                        run_id=f"run-{i}",
                        details={"exit_code": i % 3, "execution_time_ms": i},
                    )
        append_s = time.perf_counter() - t0
        store.close()
        print(f"append: {args.events} events in {append_s:.2f} s ({args.events / append_s:,.0f}/s, batches of {batch})")

        for argv in (
            ["audit", "verify"],
            ["audit", "query", "--type", "CronJobFailed", "--since", "2026-02-01", "--limit", "50"],
        ):
            t0 = time.perf_counter()
            r = subprocess.run(
                [sys.executable, "-m", "symbi_cron", *argv], env=env, capture_output=True, text=True, check=False
            )
            wall = time.perf_counter() - t0
            first = (r.stdout.splitlines() or [""])[0]
            print(f"symbi {' '.join(argv)}: {wall * 1000:.0f} ms (exit {r.returncode}) {first[:60]}")

    bench_agentpin()


def bench_agentpin(n: int = 2000) -> None:
    import base64

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from symbi_cron.clock import SystemClock
    from symbi_cron.config import AgentPinSettings
    from symbi_cron.security.agentpin import AgentPinVerifier

    def b64u(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    doc = {
        "agentpin_version": "0.1",
        "entity": "bench.example",
        "entity_type": "maker",
        "public_keys": [
            {
                "kid": "k",
                "kty": "EC",
                "crv": "P-256",
                "x": b64u(nums.x.to_bytes(32, "big")),
                "y": b64u(nums.y.to_bytes(32, "big")),
            }
        ],
        "agents": [{"agent_id": "urn:agentpin:bench.example:a", "status": "active"}],
    }
    with tempfile.TemporaryDirectory() as d:
        Path(d, "bench.example.json").write_text(json.dumps(doc))
        now = datetime.now(timezone.utc)
        token = jwt.encode(
            {
                "iss": "bench.example",
                "sub": "urn:agentpin:bench.example:a",
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(hours=1)).timestamp()),
            },
            key,
            algorithm="ES256",
            headers={"typ": "agentpin-credential+jwt", "kid": "k"},
        )
        v = AgentPinVerifier(AgentPinSettings(domain="bench.example", discovery_dir=d), SystemClock())
        v.verify(token, agent_name="a")
        t0 = time.perf_counter()
        for _ in range(n):
            v.verify(token, agent_name="a")
        per = (time.perf_counter() - t0) / n
        print(f"agentpin verify (document cached): {per * 1e6:.0f} us per credential over {n}")


if __name__ == "__main__":
    main()

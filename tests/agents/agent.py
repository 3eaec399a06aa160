"""A small script agent for the runtime tests: `agent.py ACTION [ARGS]` (see each branch)."""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    action = sys.argv[1] if len(sys.argv) > 1 else "echo"
    args = sys.argv[2:]
    if action == "echo":  # stdin to stdout
        sys.stdout.write(sys.stdin.read())
        return 0
    if action == "env":  # the SYMBI_* protocol variables and cwd as JSON
        data = {k: v for k, v in os.environ.items() if k.startswith("SYMBI_") or k.startswith("AGENT_")}
        data["cwd"] = os.getcwd()
        data["stdin"] = sys.stdin.read()
        print(json.dumps(data))
        return 0
    if action == "mark":  # append "start RUN PID" to FILE, sleep SECONDS, append "end RUN PID" (its own record)
        path, seconds = args[0], float(args[1]) if len(args) > 1 else 0.0
        run, pid = os.environ.get("SYMBI_RUN_ID", "-"), os.getpid()
        with open(path, "a") as fh:
            fh.write(f"start {run} {pid} {time.time():.6f}\n")
        print("started", flush=True)
        time.sleep(seconds)
        with open(path, "a") as fh:
            fh.write(f"end {run} {pid} {time.time():.6f}\n")
        print("done")
        return 0
    if action == "allenv":  # the whole environment as JSON
        print(json.dumps(dict(os.environ)))
        return 0
    if action == "fail":  # exit with a code, saying why on stderr
        print("about to fail")
        print("something broke", file=sys.stderr)
        return int(args[0]) if args else 3
    if action == "sleep":  # print, then sleep
        print("sleeping", flush=True)
        time.sleep(float(args[0]))
        print("woke")
        return 0
    if action == "spawn":  # a child in the same group that would outlive us, then sleep
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(args[0], "w") as fh:
            fh.write(str(child.pid))
        print("spawned", child.pid, flush=True)
        time.sleep(600)
        return 0
    if action == "ignore-term":  # ignore SIGTERM (needs the KILL)
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring TERM", flush=True)
        time.sleep(600)
        return 0
    if action == "big":  # N bytes of output
        n = int(args[0])
        sys.stdout.write("x" * (n - 4) + "END\n")
        return 0
    if action == "summary":  # write a summary file
        with open(os.environ["SYMBI_SUMMARY_FILE"], "w") as fh:
            fh.write(args[0])
        print("output line")
        return 0
    if action == "memory":  # count runs in the context dir; summary = count; report what we got
        path = os.path.join(os.getcwd(), "count")
        n = int(open(path).read()) + 1 if os.path.exists(path) else 1
        with open(path, "w") as fh:
            fh.write(str(n))
        with open(os.environ["SYMBI_SUMMARY_FILE"], "w") as fh:
            fh.write(f"run {n}")
        print(
            json.dumps(
                {
                    "count": n,
                    "previous": os.environ.get("SYMBI_PREVIOUS_SUMMARY", ""),
                    "cwd": os.getcwd(),
                    "iteration": os.environ.get("SYMBI_ITERATION"),
                }
            )
        )
        return 0
    if action == "heartbeat":  # evaluate, act, and answer `sleep` at iteration N (never when N is 0)
        stop_at = int(args[0])
        it = int(os.environ["SYMBI_ITERATION"])
        print(f"iteration {it} previous={os.environ.get('SYMBI_PREVIOUS_SUMMARY', '')!r} cwd={os.getcwd()}")
        with open(os.environ["SYMBI_SUMMARY_FILE"], "w") as fh:
            fh.write(f"checked {it}")
        if stop_at and it >= stop_at:
            print("SLEEP")
        return 0
    print(f"unknown action {action}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

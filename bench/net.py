"""The cost of the one way out for HTTP: ``net.request`` (an opener built per call, proxies read from the environment
as they are now, no redirect handler) beside urllib with one opener built once (how deliveries posted before) and a
bare ``http.client`` connection (the raw limit), each POSTing a small JSON body to a local server that answers 200
at once. Prints the median microseconds per call of each, in the same run.

    python bench/net.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from symbi_cron import net

BODY = b'{"event": "run.finished", "run": {"id": "0123456789abcdef"}}'
HEADERS = {"Content-Type": "application/json", "User-Agent": "bench"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


def per_call_us(call, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/hook"

    def raw() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/hook", body=BODY, headers=HEADERS)
        conn.getresponse().read()
        conn.close()

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def urllib_once() -> None:
        req = urllib.request.Request(url, data=BODY, headers=HEADERS, method="POST")
        with opener.open(req, timeout=10) as resp:
            resp.read()

    def via_net() -> None:
        assert net.request("POST", url, body=BODY, headers=HEADERS, timeout=10).status == 200

    ways = {"http.client (raw limit)": raw, "urllib, one opener": urllib_once, "net.request": via_net}
    results: dict[str, list[float]] = {name: [] for name in ways}
    for call in ways.values():
        call()  # warm-up
    for _ in range(args.rounds):  # interleaved rounds: a busy moment of the machine hits all three alike
        for name, call in ways.items():
            results[name].append(per_call_us(call, args.calls))
    server.shutdown()
    raw_us = statistics.median(results["http.client (raw limit)"])
    print(f"{args.calls} POSTs x {args.rounds} rounds to 127.0.0.1 (median us per call)")
    for name, values in results.items():
        us = statistics.median(values)
        print(f"  {name:<26} {us:8.0f} us   {us / raw_us:5.2f}x raw")


if __name__ == "__main__":
    main()

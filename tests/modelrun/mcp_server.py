"""A small stdio MCP server for the tests (MCP's stdio transport: JSON-RPC 2.0, one message per line).

Tools: ``echo`` (says back its ``text``), ``whoami`` (the environment it was started with and its pid, also
written to ``$MCP_PID_FILE``), ``secret`` (a tool the tests gate behind a capability) and ``fail`` (an error
result). It pings the client before answering ``tools/call`` (a server may send requests of its own) and logs a
notification, as real servers do."""

from __future__ import annotations

import json
import os
import sys

TOOLS = [
    {
        "name": "echo",
        "description": "Say the text back",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    },
    {"name": "whoami", "description": "Where this server runs", "inputSchema": {"type": "object"}},
    {"name": "secret", "description": "Read the secret", "inputSchema": {"type": "object"}},
    {"name": "fail", "description": "Always fails", "inputSchema": {"type": "object"}},
]


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    if os.environ.get("MCP_PID_FILE"):
        with open(os.environ["MCP_PID_FILE"], "w") as f:
            f.write(str(os.getpid()))
    for line in sys.stdin:
        msg = json.loads(line)
        method, rid = msg.get("method"), msg.get("id")
        if rid is None:
            continue  # notifications/initialized and the like
        if method == "initialize":
            send(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "result": {
                        "protocolVersion": msg["params"]["protocolVersion"],
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "test-server", "version": "1"},
                    },
                }
            )
        elif method == "tools/list":
            cursor = (msg.get("params") or {}).get("cursor")
            page = TOOLS[2:] if cursor else TOOLS[:2]  # two pages: the client follows nextCursor
            result = {"tools": page, **({} if cursor else {"nextCursor": "page2"})}
            send({"jsonrpc": "2.0", "id": rid, "result": result})
        elif method == "tools/call":
            send({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"})
            json.loads(sys.stdin.readline())  # the client's answer to the ping
            send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}})
            name, args = msg["params"]["name"], msg["params"].get("arguments") or {}
            if name == "echo":
                result = {"content": [{"type": "text", "text": f"echo: {args.get('text')}"}]}
            elif name == "whoami":
                text = f"cwd={os.getcwd()} token={os.environ.get('MCP_TOKEN', '')} pid={os.getpid()}"
                result = {"content": [{"type": "text", "text": text}]}
            elif name == "secret":
                result = {"content": [{"type": "text", "text": "the secret"}]}
            else:
                result = {"content": [{"type": "text", "text": "it broke"}], "isError": True}
            send({"jsonrpc": "2.0", "id": rid, "result": result})
        else:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"unknown method {method}"}})


if __name__ == "__main__":
    main()

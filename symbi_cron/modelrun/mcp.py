"""Model Context Protocol tools: the stdio MCP servers a model agent declares (``mcp_servers { NAME { command } }``).

Each server is started when the run starts, in the runner's process group (the run owner's kill of the agent
reaches it too) with the run's context directory as cwd and the tools' environment (the agent's, less the model
API keys) plus its own ``env``; it is stopped when the run ends. The client speaks MCP's stdio transport itself:
JSON-RPC 2.0 messages, one per line (``initialize``, ``notifications/initialized``, ``tools/list``,
``tools/call``), synchronously, bounded by the call's timeout and the run's deadline. Why not the official SDK:
docs/decisions.md ("MCP: a small client of our own").

A server's tools reach the model as ``SERVER__TOOL``. Each is gated like a declared tool: the server's
``capability`` (or ``tool_capabilities[TOOL]``) must be one of the agent's capabilities, or the model is told the
call was refused and nothing is sent to the server.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The protocol revision this client speaks (servers answer with the one they choose; any is accepted).
PROTOCOL_VERSION = "2025-06-18"
#: How long a server may take to start and answer ``initialize`` and ``tools/list``.
START_TIMEOUT = 20.0
DEFAULT_TIMEOUT = 60.0
SEPARATOR = "__"
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")
#: Characters of a result handed back to the model (as for declared tools).
RESULT_CHARS = 16_000


class McpError(Exception):
    """A server could not be started, broke the protocol, or did not answer in time."""


@dataclass
class McpTool:
    """One tool of one server, as the model sees it (``name``) and as the server knows it (``remote``)."""

    server: str
    remote: str
    name: str
    description: str
    parameters: dict[str, Any]
    capability: str | None
    timeout: float

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass
class McpServer:
    """A running stdio server: JSON-RPC requests out on stdin, answers in on stdout."""

    name: str
    proc: subprocess.Popen[bytes]
    clock: Callable[[], float] = time.monotonic
    next_id: int = 1
    buffer: bytes = b""
    info: dict[str, Any] = field(default_factory=dict)
    stderr_tail: bytes = b""

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise McpError(f"MCP server {self.name!r} is gone ({exc}){self._stderr()}") from None

    def request(self, method: str, params: dict[str, Any] | None, *, until: float) -> Any:
        """Send a request and wait (until ``until`` on the clock) for its answer; answer the server's own
        requests meanwhile (``ping``; anything else: method not found) and drop its notifications."""
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, **({"params": params} if params else {})})
        while True:
            message = self._read(until, method)
            if "method" in message:
                if "id" in message:  # a request from the server
                    if message["method"] == "ping":
                        self.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                    else:
                        self.send(
                            {
                                "jsonrpc": "2.0",
                                "id": message["id"],
                                "error": {"code": -32601, "message": f"method not supported: {message['method']}"},
                            }
                        )
                continue  # a notification (logging, progress, list_changed): nothing to do
            if message.get("id") != rid:
                continue  # an answer to something we no longer wait for
            if "error" in message:
                err = message["error"] or {}
                raise McpError(f"MCP server {self.name!r}: {method} failed: {err.get('message') or err}")
            return message.get("result")

    def _read(self, until: float, method: str) -> dict[str, Any]:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        while True:
            line, sep, rest = self.buffer.partition(b"\n")
            if sep:
                self.buffer = rest
                if not line.strip():
                    continue
                try:
                    message = json.loads(line.decode("utf-8"))
                except ValueError:
                    raise McpError(
                        f"MCP server {self.name!r} wrote something that is not JSON-RPC: {line[:200]!r}"
                    ) from None
                if isinstance(message, dict):
                    return message
                continue
            left = until - self.clock()
            if left <= 0:
                raise McpError(f"MCP server {self.name!r} did not answer {method} in time")
            with selectors.DefaultSelector() as sel:
                sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
                sel.register(self.proc.stderr, selectors.EVENT_READ, "err")
                for key, _ in sel.select(min(left, 1.0)):
                    chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                    if key.data == "err":
                        self.stderr_tail = (self.stderr_tail + chunk)[-2000:]
                        continue
                    if not chunk:
                        self.proc.poll()
                        raise McpError(
                            f"MCP server {self.name!r} closed its output while answering {method}"
                            f" (exit {self.proc.returncode}){self._stderr()}"
                        )
                    self.buffer += chunk

    def _stderr(self) -> str:
        text = self.stderr_tail.decode("utf-8", "replace").strip()
        return f": {text[-500:]}" if text else ""

    def stop(self, grace: float = 2.0) -> None:
        """Close its input (the stdio transport's way to say goodbye), then TERM and KILL if it lingers."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        for sig, wait in ((None, grace / 2), (signal.SIGTERM, grace / 2), (signal.SIGKILL, 5.0)):
            if sig is not None:
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


class McpSession:
    """The MCP servers of one run and their tools. Use as a context manager: the servers stop at its end."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.servers: dict[str, McpServer] = {}
        self.tools: dict[str, McpTool] = {}

    def __enter__(self) -> McpSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def start(
        self,
        name: str,
        spec: Mapping[str, Any],
        *,
        cwd: Path,
        env: Mapping[str, str],
        deadline: float | None,
        taken: set[str],
    ) -> list[McpTool]:
        """Start server ``name``, initialize it and list its tools (named ``name__tool``; a name the agent's
        own tools hold is refused)."""
        try:
            argv = shlex.split(str(spec.get("command") or ""))
        except ValueError as exc:
            raise McpError(f"MCP server {name!r}: the command cannot be split like a shell would: {exc}") from None
        if not argv:
            raise McpError(f"MCP server {name!r} has no command")
        own_env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=str(cwd),
                env={**env, **own_env, "SYMBI_MCP_SERVER": name},
                close_fds=True,
            )
        except OSError as exc:
            raise McpError(f"MCP server {name!r}: cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        server = McpServer(name, proc, self.clock)
        self.servers[name] = server
        until = self.clock() + START_TIMEOUT
        if deadline is not None:
            until = min(until, deadline)
        server.info = (
            server.request(
                "initialize",
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "symbi-cron", "version": _version()},
                },
                until=until,
            )
            or {}
        )
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = server.request("tools/list", {"cursor": cursor} if cursor else None, until=until) or {}
            listed.extend(t for t in page.get("tools") or [] if isinstance(t, dict))
            cursor = page.get("nextCursor")
            if not cursor:
                break
        default_cap = spec.get("capability")
        per_tool = spec.get("tool_capabilities") or {}
        timeout = float(spec.get("timeout") or DEFAULT_TIMEOUT)
        tools = []
        for t in listed:
            remote = str(t.get("name") or "")
            exposed = _TOOL_NAME.sub("_", f"{name}{SEPARATOR}{remote}")[:64]
            if not remote or exposed in taken:
                continue
            schema = t.get("inputSchema") if isinstance(t.get("inputSchema"), dict) else {"type": "object"}
            schema = {"type": "object", **schema}
            tool = McpTool(
                name,
                remote,
                exposed,
                str(t.get("description") or t.get("title") or f"{remote} (MCP server {name})"),
                schema,
                per_tool.get(remote, default_cap),
                timeout,
            )
            self.tools[exposed] = tool
            taken.add(exposed)
            tools.append(tool)
        return tools

    def call(
        self,
        tool: McpTool,
        arguments: dict[str, Any] | None,
        *,
        agent_name: str,
        allowed: set[str],
        deadline: float | None,
    ) -> tuple[str, bool, bool]:
        """(content for the model, is_error, deadline_hit) of one call; refused without the capability."""
        if tool.capability and tool.capability not in allowed:
            return (
                f"refused: tool {tool.name!r} needs the capability {tool.capability!r}, which agent"
                f" {agent_name!r} does not have",
                True,
                False,
            )
        if arguments is None:
            return "error: the arguments are not a JSON object", True, False
        server = self.servers[tool.server]
        until = self.clock() + tool.timeout
        hit_deadline = deadline is not None and deadline <= until
        if deadline is not None:
            until = min(until, deadline)
        try:
            result = server.request("tools/call", {"name": tool.remote, "arguments": arguments}, until=until) or {}
        except McpError as exc:
            late = "in time" in str(exc)
            return f"error: {exc}", True, late and hit_deadline
        return _content_text(result), bool(result.get("isError")), False


def _content_text(result: Mapping[str, Any]) -> str:
    """A ``tools/call`` result as text: its text items; other items named; the structured content when there is
    nothing else."""
    parts = []
    for item in result.get("content") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "text":
            parts.append(str(item.get("text") or ""))
        elif kind == "resource":
            res = item.get("resource") or {}
            parts.append(str(res.get("text") or f"[resource {res.get('uri')}]"))
        elif kind == "resource_link":
            parts.append(f"[resource {item.get('uri')}]")
        else:
            parts.append(f"[{kind} content, {item.get('mimeType') or 'unknown type'}]")
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"]))
    text = "\n".join(parts)
    if len(text) > RESULT_CHARS:
        text = text[:RESULT_CHARS] + f"\n[truncated at {RESULT_CHARS} characters]"
    return text


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("symbi-cron")
    except Exception:
        return "0"

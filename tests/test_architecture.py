"""The layers of docs/architecture.md, checked on the code: the import graph (every import, lazy ones inside
functions included, read from the source with ``ast``) has no cycle, and every import goes down:

    cli, client ─┐
    http ────────┼──> services ──> store, delivery, security, domain
    runtime ─────┘       (runtime: supervisor > pool > forkserver > owner > execute > executor)

"domain" is the package's top-level modules (models, vocab, config, timing, dsl, errors, paths...) and
``modelrun`` (the model runner, which runs in an agent's process). A module may import its own layer and the layers
below it; the few exceptions are listed in :data:`EXCEPTIONS`, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "symbi_cron"

#: layer -> the layers it may import (its own included).
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "store": {"store", "domain"},
    "delivery": {"delivery", "domain"},
    "security": {"security", "domain"},
    "modelrun": {"modelrun", "domain"},
    "services": {"services", "store", "delivery", "security", "domain"},
    "runtime": {"runtime", "services", "store", "delivery", "security", "domain"},
    "http": {"http", "services", "store", "domain"},
    "cli": {"cli", "services", "runtime", "domain"},
    "client": {"client", "services", "domain"},
    "main": {"cli"},
}
#: Inside runtime/, top to bottom: a module imports only modules below it ("executors below the supervisor").
RUNTIME_ORDER = (
    "daemonize",
    "supervisor",
    "pool",
    "forkserver",
    "owner",
    "execute",
    "model_agent",
    "executor",
    "sessions",
)
#: (importer, imported) -> why it is allowed anyway.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("runtime.daemonize", "http.server"): "the daemon process composes the API beside the supervisor",
    ("cli.completers", "store.completion"): "completion runs at every Tab press: it reads the store on the light path",
    ("services.budgets", "modelrun.budget"): "the limits a run starts under are the runner's own Limit objects",
    ("services.budgets", "modelrun.pricing"): "[models.budgets] is looked up by name or glob as prices are",
    ("services.budgets", "modelrun.providers"): "a model's budget counts the model id the API and the store use",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names] + [module]
        for target in targets:
            while target and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and target.startswith("symbi_cron"):
                found.add(target)
    # `from . import x` names a module; the package itself is then only the way to it
    return {t for t in found if not (t == "symbi_cron" or (modules[t].name == "__init__.py" and _has_child(t, found)))}


def _has_child(package: str, found: set[str]) -> bool:
    return any(f.startswith(package + ".") for f in found)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _short(name: str) -> str:
    return name.removeprefix("symbi_cron.")


def layer(name: str) -> str:
    parts = _short(name).split(".")
    if parts[0] == "__main__":
        return "main"
    if len(parts) == 1 and parts[0] not in ALLOWED:
        return "domain"  # a top-level module
    return parts[0] if parts[0] in ALLOWED else "domain"


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(_short(c) for c in component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == [], f"import cycles: {cycles}"


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for importer, imported in sorted(_graph().items()):
        for target in sorted(imported):
            a, b = layer(importer), layer(target)
            pair = (_short(importer), _short(target))
            if b not in ALLOWED[a] and pair not in EXCEPTIONS:
                wrong.append(f"{pair[0]} ({a}) imports {pair[1]} ({b})")
    assert wrong == [], "imports against the layers (docs/architecture.md):\n  " + "\n  ".join(wrong)


def test_inside_runtime_the_supervisor_is_above_the_owner_above_the_executor() -> None:
    rank = {f"symbi_cron.runtime.{m}": i for i, m in enumerate(RUNTIME_ORDER)}
    wrong = []
    for importer, imported in _graph().items():
        for target in imported:
            if importer in rank and target in rank and rank[target] <= rank[importer]:
                wrong.append(f"{_short(importer)} imports {_short(target)}, which is not below it")
    assert sorted(wrong) == []
    assert set(rank) == {m for m in _modules() if m.startswith("symbi_cron.runtime.")}, "a runtime module is unranked"


def test_the_exceptions_are_still_needed() -> None:
    graph = _graph()
    stale = [pair for pair in EXCEPTIONS if f"symbi_cron.{pair[1]}" not in graph.get(f"symbi_cron.{pair[0]}", set())]
    assert stale == [], f"exceptions no longer needed (remove them): {stale}"

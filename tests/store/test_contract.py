"""The store contract (``symbi_cron/store/contract.py``) holds on the code: no SQL statement is written outside
``symbi_cron/store/`` (the package's string constants read with ``ast``), every operation the contract names exists
and every function of the query modules is in the contract, both backends offer what ``Backend`` promises, and a
statement the dialects spell differently exists once per dialect instead of being rewritten at run time."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from symbi_cron.store import contract
from symbi_cron.store.base import PerDialect
from symbi_cron.store.db import Store
from symbi_cron.store.postgres import PgStore

PACKAGE = Path(__file__).resolve().parents[2] / "symbi_cron"

#: A string that starts as an SQL statement does (keywords are written in capitals in this code base).
STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|REPLACE\s+INTO"
    r"|CREATE\s+(TABLE|INDEX|UNIQUE|TRIGGER|VIEW)|DROP\s+(TABLE|INDEX|TRIGGER|VIEW)|ALTER\s+TABLE"
    r"|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|LISTEN|NOTIFY|UNLISTEN|VACUUM|ANALYZE"
    r"|WITH\s+\w+\s+AS)\b"
)
#: Or holds a piece of one: a clause, a condition on a column, an upsert (what a query built in parts is made of).
CLAUSE = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\bPRAGMA\s+\w+"
    r"|\b(WHERE|AND|OR)\s+[\w.]+\s*(=|<>|!=|<=|>=|<|>|\bIN\b|\bLIKE\b|\bIS\b)"
    r"|\b(ORDER|GROUP)\s+BY\b|\bLIMIT\s+(\?|\d)|\bON\s+CONFLICT\b",
    re.S,
)
#: The same statements in any case (``select ... from``, ``update t set c =``): lower-case SQL is SQL too. Shaped so
#: that prose does not match ("Select a job", "Delete a job and its history", an HTTP method "DELETE").
ANY_CASE = re.compile(
    r"\bselect\s+[\w*(),.\s]+?\s+from\s+\w|\binsert\s+(or\s+\w+\s+)?into\s+\w+|\bupdate\s+\w+\s+set\s+\w+\s*="
    r"|\bdelete\s+from\s+\w+\s+where\b|\bpragma\s+\w+\s*(=|;|$)|\bcreate\s+(unique\s+)?(table|index|trigger|view)\s+\w"
    r"|\bdrop\s+(table|index|trigger|view)\s+\w|\balter\s+table\s+\w",
    re.I | re.S,
)
#: What only code that talks to a database driver calls or imports.
DRIVER_CALLS = {"execute", "executemany", "executescript", "fetchone", "fetchall", "fetchmany", "cursor"}
DRIVER_MODULES = {"sqlite3", "psycopg", "psycopg2", "psycopg_pool"}
#: Functions of the query modules that answer nothing from the store (they shape rows, hash an event).
HELPERS = {"jobs.row_to_job", "runs.row_to_run", "agents.row_to_agent", "audit.canonical_details", "audit.event_hash"}


def _sql_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants (f-strings with their holes as ``{}``) of a module that are SQL, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        else:
            continue
        if STATEMENT.search(text) or CLAUSE.search(text) or ANY_CASE.search(text):
            found.append((node.lineno, text))
    return found


def test_no_sql_is_written_outside_the_store():
    outside = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text.strip()[:80]!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "store"
        for line, text in _sql_strings(path)
    ]
    assert outside == [], "SQL outside symbi_cron/store/ (add an operation to a store module):\n" + "\n".join(outside)


def _driver_use(path: Path) -> list[tuple[int, str]]:
    """Imports of a database driver and calls of a cursor's methods (``x.execute(...)``, ``x.fetchone()``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] in DRIVER_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in DRIVER_MODULES:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DRIVER_CALLS:
            found.append((node.lineno, f".{node.func.attr}()"))
    return found


def test_nothing_outside_the_store_talks_to_a_database_driver():
    outside = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "store"
        for line, what in _driver_use(path)
    ]
    assert outside == [], "a database driver used outside symbi_cron/store/:\n" + "\n".join(outside)


def test_the_walk_finds_sql_where_it_is(tmp_path):
    """The detector is not blind: the store's own modules are full of SQL, and a query built in parts is seen."""
    assert len(_sql_strings(PACKAGE / "store" / "runs.py")) > 10
    sample = tmp_path / "sample.py"
    sample.write_text(
        'def f(conn, job_id, table):\n    """SELECT in a docstring is prose."""\n'
        '    sql = f"SELECT * FROM {table}"\n'
        '    sql += " AND status = ?"\n'
        '    conn.execute("PRAGMA user_version")\n'
        '    print("Select a job, then press Enter")\n'
        '    q = "select id from jobs"\n'
        '    q = "update jobs set status = :s"\n'
        '    q = "delete from runs where id = ?"\n'
        '    route = ("DELETE", "Delete a job and its history")\n'
        "    import sqlite3\n"
        "    return conn.execute(q).fetchall()\n"
    )
    assert sorted(line for line, _ in _sql_strings(sample)) == [3, 4, 5, 7, 8, 9]
    assert [what for _, what in sorted(_driver_use(sample))] == [".execute()", "sqlite3", ".execute()", ".fetchall()"]


#: The modules of store/ that are not query modules: the backends, their template, the migrations, the contract.
NOT_QUERIES = {"__init__", "base", "db", "postgres", "factory", "migrations", "contract"}


def _query_modules() -> dict[str, object]:
    """Every other module of store/: each holds queries, so each is in the contract."""
    names = {path.stem for path in (PACKAGE / "store").glob("*.py")} - NOT_QUERIES
    return {name: importlib.import_module(f"symbi_cron.store.{name}") for name in sorted(names)}


def test_every_operation_of_the_contract_exists_once():
    modules = _query_modules()
    names = [op.name for _, op in contract.operations()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for _, op in contract.operations():
        module, function = op.name.split(".")
        assert callable(getattr(modules[module], function, None)), f"{op.name} is in the contract but not in store/"
        assert op.tx in (contract.WRITE, contract.READ), op


def test_every_query_function_is_in_the_contract():
    declared = {op.name for _, op in contract.operations()}
    missing = []
    for name, module in _query_modules().items():
        for function, obj in vars(module).items():
            if function.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            if f"{name}.{function}" not in declared | HELPERS:
                missing.append(f"{name}.{function}")
    assert missing == [], f"add these to store/contract.py with their transaction and promise: {missing}"


@pytest.mark.parametrize("store_class", [Store, PgStore], ids=["sqlite", "postgresql"])
def test_both_backends_offer_what_the_contract_promises(store_class):
    wanted = [
        name
        for name, member in vars(contract.Backend).items()
        if not name.startswith("_") and inspect.isfunction(member)
    ]
    assert wanted  # the protocol has methods to check
    missing = [name for name in wanted if not callable(getattr(store_class, name, None))]
    assert missing == []
    assert store_class.dialect in ("sqlite", "postgresql")


def test_a_running_store_is_a_backend(tmp_path):
    store = Store(tmp_path / "s.db")
    assert isinstance(store, contract.Backend)
    store.check_writable()  # a real write, changing nothing
    assert store.schema_version() > 0


def test_a_statement_that_differs_exists_once_per_dialect():
    """The dialect picks its own text; nothing translates one into the other."""
    from symbi_cron.store import jobs

    class PgLike:
        dialect = "postgresql"

    due = jobs._DUE
    assert isinstance(due, PerDialect)
    assert "INDEXED BY jobs_due" in due(object()) and "INDEXED BY" not in due(PgLike())
    postgres = (PACKAGE / "store" / "postgres.py").read_text(encoding="utf-8")
    assert "INDEXED" not in postgres.split("# -- the migrations' DDL")[0]  # no rewriting of queries

"""Project shape: the layers of the data flow, read from the imports — read → qa → allocate → store → serve, the
registry on top, the command line and the HTTP API over it (issue 19) — and the README's set-up commands."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cadastre"

#: what each part of the library may import of cadastre (besides itself); "face" is the public face
#: (cadastre/__init__) and the top-level modules users import (codes, samples, testing)
ALLOWED = {
    "core": set(),
    "read": {"core"},
    "qa": {"core", "read"},
    "allocate": {"core", "read", "qa"},
    "store": {"core"},
    "serve": {"core", "read", "qa", "allocate"},
    "registry": {"core", "read", "qa", "allocate", "store", "serve"},
    "cli": {"core", "serve", "registry", "face"},
    "api": {"core", "serve", "registry", "face"},
}
#: the layers that hold no database code: no SQLAlchemy, no store
NO_DATABASE = ("core", "read", "qa", "allocate", "serve")
FACE = {"cadastre", "cadastre.codes", "cadastre.events", "cadastre.samples", "cadastre.testing"}


def _files(part: str):
    folder = ROOT / "api" if part == "api" else PACKAGE / part
    return [p for p in folder.rglob("*.py") if "migrations" not in p.parts]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at module level) of every import, leaving out those under ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, node.lineno, id(node) in top)]
            if node.module == "cadastre":  # from cadastre import X: the public face, or a package of it
                found += [(f"cadastre.{a.name}", node.lineno, id(node) in top) for a in node.names
                          if (PACKAGE / a.name).is_dir()]
    return found


def _part(module: str) -> str | None:
    if module in FACE:
        return "face"
    if module.startswith("cadastre."):
        return module.split(".")[1]
    return None


def test_each_layer_imports_only_the_layers_before_it():
    wrong = []
    for part, allowed in ALLOWED.items():
        for path in _files(part):
            for module, line, _ in _imports(path):
                target = _part(module)
                if target is None or target == part:
                    continue
                if target not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} ({part}) imports {module}")
    assert not wrong, "\n".join(wrong)


def test_only_the_store_talks_sql_and_only_the_registry_opens_connections():
    wrong = []
    for part in NO_DATABASE:
        for path in _files(part):
            for module, line, _ in _imports(path):
                if module.split(".")[0] in ("sqlalchemy", "geoalchemy2", "psycopg", "sqlean", "alembic"):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    # (an async connection's get_raw_connection() hands over the driver's connection it holds: it opens nothing)
    opening = re.compile(r"\.connect\(\)|\.begin\(\)|write_transaction\(|(?<!get_)raw_connection\(")
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(("registry/", "store/migrations/")) or relative in (
                "store/engine.py", "testing.py", "samples.py"):  # the registry; the definitions; dev tools
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if opening.search(text) and not text.lstrip().startswith(("#", ">>>")):
                wrong.append(f"cadastre/{relative}:{number} opens a connection or transaction: {text.strip()}")
    sql = re.compile(r"sa\.text\(|exec_driver_sql\(|\.execute\(")
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "api").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("cadastre/store/") or relative in ("cadastre/testing.py",):
            continue
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if sql.search(text):
                wrong.append(f"{relative}:{number} writes SQL outside cadastre/store: {text.strip()}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_the_parts():
    graph: dict[str, set[str]] = {}
    for part in ALLOWED:
        for path in _files(part):
            graph.setdefault(part, set()).update(
                t for m, _, top in _imports(path) if top and (t := _part(m)) not in (None, part, "face"))

    def reaches(start: str, goal: str, seen=()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    assert [p for p in graph if reaches(p, p)] == []


def test_the_package_is_small_at_its_top_and_no_class_is_huge():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top
    large = []
    for path in list(PACKAGE.rglob("*.py")) + list((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno > 300:
                large.append(f"{path.relative_to(ROOT)}: {node.name} ({node.end_lineno - node.lineno} lines)")
    assert not large, large


def test_domain_library_imports_no_web_framework():
    offenders = [f"{path.relative_to(ROOT)}: {module}" for path in PACKAGE.rglob("*.py")
                 for module, _, _ in _imports(path) if module.split(".")[0] in {"fastapi", "starlette", "uvicorn"}]
    assert not offenders, offenders


def test_the_command_line_loads_no_web_framework_until_it_serves():
    # the ``cadastre`` command adds ``serve`` from api.cli on every start; only ``serve`` itself may load FastAPI
    loaded = subprocess.run([sys.executable, "-c", "import sys, cadastre.cli; "
                             "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn'}))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    from cadastre.cli import cli

    assert "serve" in cli.commands
    assert loaded == "[]"


def test_readme_documents_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme and "CADASTRE_DB" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()

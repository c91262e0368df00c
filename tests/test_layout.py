"""Project shape: the domain library imports no web framework; the README names the two set-up commands."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_domain_library_imports_no_web_framework():
    offenders = []
    for path in (ROOT / "cadastre").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in {"fastapi", "starlette", "uvicorn", "flask"}]
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

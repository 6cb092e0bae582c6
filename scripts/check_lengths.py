"""Fail on an app function over MAX_FUNCTION_LINES lines or a template line over MAX_TEMPLATE_LINE chars.

Run by scripts/lint.sh (part of `make test`). App code is the six packages, the simulator included; tests,
benchmarks and migrations are not. Python line length itself is ruff's (pyproject.toml).
Usage: python scripts/check_lengths.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_FUNCTION_LINES = 80
MAX_TEMPLATE_LINE = 120
APP_PACKAGES = ("palette", "core", "tenancy", "integrations", "compute", "paletteai_admin")
TEMPLATES = "templates"


def long_functions(path: Path) -> list[str]:
    """One problem per function in `path` longer than MAX_FUNCTION_LINES (decorators not counted)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                limit = f"at most {MAX_FUNCTION_LINES}"
                problems.append(f"{path}:{node.lineno}: {node.name}() is {length} lines long ({limit})")
    return problems


def long_template_lines(path: Path) -> list[str]:
    """One problem per line of template `path` longer than MAX_TEMPLATE_LINE characters."""
    return [
        f"{path}:{number}: template line of {len(line)} characters (at most {MAX_TEMPLATE_LINE})"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if len(line) > MAX_TEMPLATE_LINE
    ]


def main() -> int:
    problems = []
    for package in APP_PACKAGES:
        for path in sorted(Path(package).rglob("*.py")):
            if "migrations" not in path.parts:
                problems += long_functions(path)
    for path in sorted(Path(TEMPLATES).rglob("*.html")):
        problems += long_template_lines(path)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

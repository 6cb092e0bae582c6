"""The environment variables the application reads, found in its source (not a hand-kept list)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "paletteai_admin" / "settings.py"
# Application code outside settings.py that may read the environment (the simulator's CLI and the
# benchmarks are tools with their own flags, not configuration of the running app).
APP_PACKAGES = ("paletteai_admin", "core", "tenancy", "integrations", "compute", "palette")
NOT_APP = ("palette/sim/",)
HELPERS = {"envstr", "envbool", "envint", "envnetworks", "_raw"}


def _names_in(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            first = node.args[0] if node.args else None
            literal = (
                first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            )
            if literal is None:
                continue
            if name in HELPERS:
                found.add(literal)
            # os.environ.get("X"), os.getenv("X"), os.environ.setdefault("X", ...)
            elif (
                name in ("get", "setdefault", "getenv") and "environ" in ast.unparse(func) or name == "getenv"
            ):
                found.add(literal)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.add(key.value)
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops):
            # `if "X" in os.environ`
            if (
                isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
                and "environ" in ast.unparse(node.comparators[0])
            ):
                found.add(node.left.value)
    return found


def settings_variables() -> set[str]:
    """Every variable paletteai_admin/settings.py reads (through envstr/envbool/envint/_raw or os.environ)."""
    return _names_in(SETTINGS)


def app_variables() -> set[str]:
    """Every variable any application module reads."""
    found: set[str] = set()
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative.startswith(NOT_APP):
                continue
            found |= _names_in(path)
    return found

"""What users install: nothing outside tests/ imports a dev extra (pytest, hypothesis, aiosmtpd...)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("broker", "devices", "kiosk", "security", "gatehouse")
DEV_ONLY = ("pytest", "_pytest", "hypothesis", "aiosmtpd", "mypy", "ruff", "kivy.tests")
"""Modules of the dev extras (and Kivy's test helpers, which import pytest)."""


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def dev_only(module: str) -> bool:
    """True if `module` is (inside) one of the dev-only modules."""
    return any(module == dev or module.startswith(f"{dev}.") for dev in DEV_ONLY)


def test_the_check_sees_an_import_of_kivy_tests(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    lazy = "def f():\n    from kivy.tests.common import UnitTestTouch\n    import hypothesis.errors\n"
    sample.write_text(lazy)
    # an import inside a function counts too: it fails as soon as that code runs
    found = sorted(m for m in imported(sample) if dev_only(m))
    assert found == ["hypothesis.errors", "kivy.tests.common"]
    assert not dev_only("kivy.input.motionevent")
    assert not dev_only("pytesting")


def test_nothing_users_install_imports_a_dev_extra() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in sorted(imported(path))
        if dev_only(module)
    ]
    assert found == []

"""Tests that need Mosquitto or PostgreSQL skip without them, but fail under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from broker.embedded import free_port

NEEDS_BOTH = """
from broker.config import MqttUrl
from sqlalchemy import Engine


def test_needs_mosquitto(mosquitto_url: MqttUrl) -> None:
    assert mosquitto_url.port > 0


def test_needs_postgres(pg_server: Engine) -> None:
    assert pg_server is not None
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """Run the two tests above in a fresh pytest with both services pointed at a closed port."""
    closed = free_port()
    env = dict(os.environ)
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    env["GATEHOUSE_TEST_MOSQUITTO"] = f"mqtt://127.0.0.1:{closed}"
    env["GATEHOUSE_TEST_PG_URL"] = f"postgresql://postgres@127.0.0.1:{closed}/test"
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.fixtures.db", "tests.fixtures.mqtt"]\n')
    (tmp_path / "test_needs_services.py").write_text(NEEDS_BOTH)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--rootdir", str(tmp_path),
         "test_needs_services.py"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip


def test_a_missing_service_is_a_skip_on_a_developers_machine(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 skipped" in done.stdout, done.stdout
    assert "no Mosquitto at mqtt://127.0.0.1:" in done.stdout
    assert "PostgreSQL not reachable at" in done.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_service_is_a_failure_under_ci(tmp_path: Path, ci: str) -> None:
    done = _run(tmp_path, ci)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 errors" in done.stdout, done.stdout
    assert "skipped" not in done.stdout, done.stdout
    assert "CI=true: a missing service is a failure, not a skip" in done.stdout

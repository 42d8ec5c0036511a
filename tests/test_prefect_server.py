"""Integration: a real Prefect server on 127.0.0.1, the project's own prefect.yaml deployed to a
process work pool, a worker, a run triggered through the API, its outputs and artifacts checked.
Everything started here is stopped here, within bounded time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from builders import asb, attendance, benefit, intervention, person, write_delivery

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        # Prefect workers ignore SIGTERM for 30 s or more (stack notes): kill them.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"prefect server not healthy after {timeout}s")


def test_deployment_runs_on_a_real_server_through_a_worker(tmp_path):
    mum = person("Philippa", "Throgmorton", "1983-01-02", address="9 Kiln Row", postcode="DN1 3EF")
    kid = person("Rufus", "Throgmorton", "2012-03-04", address="9 Kiln Row", postcode="DN1 3EF")
    extracts = write_delivery(
        tmp_path / "incoming",
        attendance=[attendance(kid, "B200000000002", "2025/26", "autumn", possible=100, unauthorised=40)],
        asb=[asb(kid, "PR7", "EV7", "2025-12-01", "asb_injunction")],
        benefits=[benefit(mum, "QQ654321D", "jsa", "2024-01-01")],
        interventions=[intervention(mum, "CASE-77", "IP7", "2026-01-05")],
    )
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO",
           "PBR_HOME": str(ROOT), "PBR_EXTRACTS": str(extracts), "PBR_DB": str(tmp_path / "pbr.duckdb"),
           "PBR_OUT": str(tmp_path / "out"), "PYTHONPATH": str(ROOT)}
    run = lambda *args, timeout=120: subprocess.run(  # noqa: E731
        [str(BIN / "prefect"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    worker = None
    try:
        _wait_healthy(api, 90)
        r = run("work-pool", "create", "pbr-process", "--type", "process")
        assert r.returncode == 0, r.stdout + r.stderr
        r = run("--no-prompt", "deploy", "--all", timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
        worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "pbr-process", "--limit", "1"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        r = run("deployment", "run", "pbr-monthly-refresh/monthly", "--param", "period=2026-01", "--watch",
                "--watch-timeout", "240", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Completed" in r.stdout, r.stdout

        cohort = (tmp_path / "out" / "2026-01" / "cohort.csv").read_text().splitlines()
        assert len(cohort) == 2 and cohort[1].split(",")[2] == "three_criteria"
        assert "CASE-77" in cohort[1]

        import json
        req = urllib.request.Request(f"{api}/artifacts/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            artifacts = json.loads(resp.read())
        keys = {a["key"] for a in artifacts}
        assert "pbr-refresh-2026-01" in keys
        text = json.dumps(artifacts)
        for secret in ("Throgmorton", "Philippa", "Rufus", "QQ654321D", "B200000000002", "Kiln Row", "DN1 3EF"):
            assert secret not in text
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)

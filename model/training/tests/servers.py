"""Real local stand-ins started as subprocesses: an MLflow tracking server (SQLite backend)
and moto's S3-compatible server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from conftest import free_port

BIN = Path(sys.executable).parent


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not up after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def _process(cmd: list[str], health: str, log: Path, env: dict | None = None):
    log.parent.mkdir(parents=True, exist_ok=True)
    f = log.open("w")
    proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            start_new_session=True)
    try:
        _wait(health, proc, log)
        yield proc
    finally:
        # The whole session (the process is its group's leader): mlflow server's uvicorn worker,
        # job runner and huey consumers are its children and would outlive a signal to it alone.
        _stop_group(proc)
        f.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _stop_group(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM to every process of the leader's group, SIGKILL to what is left after `grace`
    seconds; the leader is reaped on the way (a zombie still counts as a member)."""
    pgid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        if not _group_alive(pgid):
            return
        os.killpg(pgid, sig)
        deadline = time.time() + wait
        while time.time() < deadline and (proc.poll() is None or _group_alive(pgid)):
            time.sleep(0.1)
    if _group_alive(pgid):
        raise RuntimeError(f"process group {pgid} is still alive after SIGKILL")


@contextmanager
def mlflow_server(workdir: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
           "--default-artifact-root", str(workdir / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    with _process(cmd, url + "/health", workdir / "mlflow-server.log"):
        yield url


@contextmanager
def moto_s3(workdir: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _process([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], url + "/moto-api/",
                  workdir / "moto.log"):
        yield url

"""A real `chroma run` server for tests (load with pytest_plugins): started on a free local port, stoppable
and restartable on the same port and data folder (to test a server that goes away), reaped at teardown."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
            return resp.status == 200 and any("heartbeat" in key for key in json.loads(resp.read()))
    except (OSError, urllib.error.URLError, ValueError):
        return False


class ChromaServer:
    """One `chroma run --path DIR --port PORT` process that can be stopped and started again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None
        self._log = folder / "chroma.log"

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        if not chroma.exists():
            pytest.fail(f"the chroma console script is missing next to {sys.executable}")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self._log, "ab")  # noqa: SIM115 - handed to the child process
        self._proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.folder / "db"), "--port", str(self.port), "--host", "127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while not _heartbeat(self.url):
            if self._proc.poll() is not None:
                pytest.fail(f"chroma run exited with {self._proc.returncode}:\n{self._log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("chroma run did not answer its heartbeat within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=15)
        self._proc = None


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    """A running Chroma server (`chroma.url`); `chroma.stop()` / `chroma.start()` to take it away and back."""
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_server(chroma: ChromaServer) -> str:
    """The URL of a running Chroma server."""
    return chroma.url

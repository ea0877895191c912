"""Starting the web UI for tests: `kbqa ui` in a subprocess on a free port, stopped afterwards.

The browser tests drive Debian's Chromium through Playwright (`playwright install` downloads a browser
from a host these machines cannot reach; see ../shared/STACK.md). Without /usr/bin/chromium they are
skipped with the reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import cli_env

CHROMIUM = Path(os.environ.get("KBQA_TEST_CHROMIUM", "/usr/bin/chromium"))
START_TIMEOUT_S = 180
_SHOTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The folder for screenshots of the main screens; its path is printed at the end of the run."""
    folder = tmp_path_factory.mktemp("ui-screenshots")
    request.config.stash[_SHOTS] = folder
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    folder = config.stash.get(_SHOTS, None)
    if folder is not None:
        names = ", ".join(sorted(p.name for p in folder.glob("*.png"))) or "none saved"
        terminalreporter.write_line(f"UI screenshots in {folder}: {names}")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class UIServer:
    url: str
    proc: subprocess.Popen
    log_path: Path
    data_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_ui(
    workdir: Path,
    model_cache: Path,
    data_dir: Path,
    corpus_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> Iterator[UIServer]:
    """`python -m kbqa.cli ui --port P *args` until the block ends; its output goes to a log file."""
    port = free_port()
    log_path = workdir / f"kbqa-ui-{port}.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kbqa.cli", "ui", "--port", str(port), *args],
            env=cli_env(model_cache, data_dir, corpus_dir, env),
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = UIServer(f"http://127.0.0.1:{port}", proc, log_path, data_dir)
        try:
            _wait_until_up(server)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(server: UIServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"kbqa ui exited with {server.proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"kbqa ui did not answer within {START_TIMEOUT_S} s:\n{server.log()[-3000:]}")


def wait_index_ready(url: str, timeout: float = START_TIMEOUT_S) -> list[str]:
    """Poll the app's index status until the first build is done; returns the statuses seen."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.predict(api_name="/index_status")[0]
        if isinstance(status, dict):  # a component update: {"value": …, "visible": …}
            status = status.get("value") or ""
        seen.append(status)
        if not status:
            client.close()
            return seen
        time.sleep(0.5)
    pytest.fail(f"the index was not ready after {timeout} s: {seen[-1]!r}")

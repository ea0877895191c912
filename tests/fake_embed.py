"""An in-process OpenAI-compatible `/v1/embeddings` server with scripted failures, for deterministic tests.

Vectors come from a function of the texts (the real local MiniLM, or anything of another size). Each
request takes the next `Step` of the script (the last one repeats; an empty script always succeeds):
an HTTP status, a delay, or a connection dropped without a reply. It records every request and how
many were in flight at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import numpy as np

from tests.local_server import ScriptedServer


@dataclass
class Step:
    status: int = 200
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without answering


@dataclass
class FakeEmbeddings(ScriptedServer):
    vectors: Callable[[list[str]], np.ndarray]
    model: str = "fake-embedder"
    script: list[Step] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._in_flight = 0
        self._serve(_handler(self))

    def next_step(self) -> Step:
        step: Step = self._next(Step())
        return step

    def texts_embedded(self, ignore: tuple[str, ...] = ("dimension probe",)) -> int:
        """Texts embedded successfully, not counting single-text requests for `ignore` (kbqa's size probe)."""
        return sum(len(r["input"]) for r in self.requests if r.get("ok") and r["input"] not in [[t] for t in ignore])


def _handler(fake: FakeEmbeddings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with fake._lock:
                fake._in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
                fake.requests.append(body)
            try:
                self._answer(body, fake.next_step())
            finally:
                with fake._lock:
                    fake._in_flight -= 1

        def _answer(self, body: dict, step: Step) -> None:
            time.sleep(step.delay)
            if step.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if not self.path.endswith("/embeddings"):
                self._json(404, {"error": {"message": "not found"}})
                return
            if step.status != 200:
                self._json(step.status, {"error": {"message": f"scripted {step.status}", "type": "test"}})
                return
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vectors = fake.vectors(texts)
            body["ok"] = True
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
            data.reverse()  # the protocol orders by `index`, not by position: clients must too
            self._json(
                200,
                {"object": "list", "model": fake.model, "data": data, "usage": {"prompt_tokens": 1, "total_tokens": 1}},
            )

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler

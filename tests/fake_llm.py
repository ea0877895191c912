"""An in-process OpenAI-compatible server with scripted replies, for deterministic protocol tests.

Each request to /v1/chat/completions takes the next `Step` of the script (the
last one repeats): an HTTP status, a reply text sent as SSE chunks when the
client streams, an optional delay, or a connection cut after some chunks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.local_server import ScriptedServer


@dataclass
class Step:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before answering
    cut_after: int | None = None  # close the connection after this many chunks
    chunk_delay: float = 0.0


@dataclass
class FakeLLM(ScriptedServer):
    script: list[Step] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    model: str = "fake-model"

    def __post_init__(self) -> None:
        self._serve(_handler(self))

    def next_step(self) -> Step:
        step: Step = self._next(Step(text=""))
        return step

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if "messages" in r]


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "test"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(body)
            step = fake.next_step()
            time.sleep(step.delay)
            if step.status != 200:
                self._json(step.status, {"error": {"message": f"scripted {step.status}", "type": "test"}})
                return
            try:
                if body.get("stream"):
                    self._stream(step)
                else:
                    self._json(200, _completion(fake.model, step.text))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a timeout test)

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, step: Step) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = [w + " " for w in step.text.split(" ")] if step.text else []
            for i, word in enumerate(words):
                if step.cut_after is not None and i >= step.cut_after:
                    self.wfile.write(b"5\r\ndata:")  # a chunk cut off mid-way, then the connection drops
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                self._chunk(
                    {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "model": fake.model,
                        "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                    }
                )
                time.sleep(step.chunk_delay)
            self._chunk(
                {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "model": fake.model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
            )
            self._chunk(
                {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "model": fake.model,
                    "choices": [],
                    "usage": {"prompt_tokens": 100, "completion_tokens": len(words), "total_tokens": 100 + len(words)},
                }
            )
            self._raw(b"data: [DONE]\n\n")
            self._raw(b"")

        def _chunk(self, payload: dict) -> None:
            self._raw(f"data: {json.dumps(payload)}\n\n".encode())

        def _raw(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _completion(model: str, text: str) -> dict:
    return {
        "id": "c",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }

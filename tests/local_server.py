"""What the scripted fake servers share: an HTTP server on 127.0.0.1 in a daemon thread, and a script of
steps handed out one per request (the last one repeats)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class ScriptedServer:
    """Serves `handler` on a free loopback port while the `with` block runs."""

    script: list[Any]

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _next(self, default: Any) -> Any:
        """The next step of the script (the last one repeats; `default` when there is none)."""
        with self._lock:
            if not self.script:
                return default
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

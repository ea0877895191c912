"""Run progress events (a module of its own so the CLI can draw them without importing the runner)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kbqa.eval.metrics import Record


class RunProgress:
    """Receives run events; the CLI draws a progress bar from them."""

    def start(self, total: int, done: int, folder: Path, resumed: bool) -> None: ...
    def item_done(self, record: Record) -> None: ...
    def note(self, message: str) -> None: ...

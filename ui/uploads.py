"""Uploaded documents: check type and size, store them under the data folder, index them.

Uploaded files are kept in `<data_dir>/uploads/` (the index refers to files by path, and a file
that disappears is dropped at the next ingest). A file name from the browser is reduced to a
plain name inside that folder: no separators, no `..`, no hidden names.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kbqa.config import Settings

UPLOAD_DIR = "uploads"
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ()]+")


class UploadError(ValueError):
    """An uploaded file that is refused (its name, type or size); the message names the file."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass
class FileResult:
    """What happened to one uploaded file."""

    name: str
    ok: bool
    message: str  # "12 passages" or the reason it was refused / skipped


@dataclass
class UploadReport:
    files: list[FileResult] = field(default_factory=list)
    summary: str = ""

    @property
    def stored(self) -> list[str]:
        return [f.name for f in self.files if f.ok]


def upload_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / UPLOAD_DIR


def safe_name(name: str) -> str:
    """A file name from a browser as a plain name: the last path part, unsafe characters replaced."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    base = unicodedata.normalize("NFC", "".join(ch for ch in base if ch.isprintable())).strip()
    base = _UNSAFE.sub("_", base)
    if not base or base.startswith(".") or set(base) <= {".", "_", " "}:
        raise UploadError(repr(name), "not a usable file name")
    if len(base) > MAX_NAME_CHARS:
        stem, suffix = Path(base).stem, Path(base).suffix
        base = stem[: MAX_NAME_CHARS - len(suffix)] + suffix
    return base


def check_file(path: Path, name: str, settings: Settings) -> None:
    """Refuse a file of a type or size the settings do not allow."""
    suffix = Path(name).suffix.lower()
    allowed = [t.lower() for t in settings.upload_types]
    if suffix not in allowed:
        raise UploadError(
            name, f"file type {suffix or '(none)'} is not accepted; upload {', '.join(allowed)} (KBQA_UPLOAD_TYPES)"
        )
    size = path.stat().st_size
    if size > settings.upload_max_mb * 1_000_000:
        raise UploadError(
            name, f"{size / 1e6:.1f} MB is over the {settings.upload_max_mb:g} MB limit per file (KBQA_UPLOAD_MAX_MB)"
        )
    if size == 0:
        raise UploadError(name, "the file is empty")


def store(path: Path, name: str, folder: Path) -> Path:
    """Copy an uploaded temporary file into the upload folder as `name` (already made safe)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # safe_name() makes this impossible; checked anyway
        raise UploadError(name, "not a usable file name")
    shutil.copyfile(path, target)
    return target


def is_upload(path: str | Path, settings: Settings) -> bool:
    """Was this indexed file uploaded through the UI (so removing it may delete the stored copy)?"""
    return Path(path).resolve().parent == upload_dir(settings).resolve()

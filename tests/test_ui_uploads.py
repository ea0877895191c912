"""Uploaded files: names cannot leave the upload folder; type and size limits come from Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbqa.config import Settings
from kbqa.ingestion.loaders import SUPPORTED_SUFFIXES
from kbqa_ui import uploads


@pytest.mark.parametrize(
    "name, expected",
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/abs/path/notes.txt", "notes.txt"),
        ("we ird<>|name?.txt", "we ird_name_.txt"),
        ("line\nbreak.txt", "linebreak.txt"),
    ],
)
def test_safe_name_keeps_only_a_plain_name(name, expected):
    assert uploads.safe_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", ".", ".hidden.txt", "dir/..", "___"])
def test_unusable_names_are_refused(name):
    with pytest.raises(uploads.UploadError, match="not a usable file name"):
        uploads.safe_name(name)


def test_long_names_keep_their_suffix():
    name = uploads.safe_name("x" * 300 + ".docx")
    assert len(name) == uploads.MAX_NAME_CHARS and name.endswith(".docx")


def test_stored_copy_stays_in_the_upload_folder(tmp_path: Path):
    src = tmp_path / "in.txt"
    src.write_text("hello", encoding="utf-8")
    folder = tmp_path / "data" / "uploads"
    target = uploads.store(src, uploads.safe_name("../../escape.txt"), folder)
    assert target.parent == folder.resolve() and target.read_text(encoding="utf-8") == "hello"
    assert not (tmp_path / "escape.txt").exists()


def test_type_and_size_limits_name_the_file_and_the_setting(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, upload_max_mb=0.001)
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000, encoding="utf-8")
    with pytest.raises(uploads.UploadError, match=r"big.txt: 0.0 MB is over the 0.001 MB limit .*KBQA_UPLOAD_MAX_MB"):
        uploads.check_file(big, "big.txt", settings)
    with pytest.raises(uploads.UploadError, match=r"tool.exe: file type .exe is not accepted.*KBQA_UPLOAD_TYPES"):
        uploads.check_file(big, "tool.exe", settings)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    with pytest.raises(uploads.UploadError, match="empty.md: the file is empty"):
        uploads.check_file(empty, "empty.md", settings)


def test_default_upload_types_all_have_a_loader():
    assert set(Settings().upload_types) <= set(SUPPORTED_SUFFIXES)

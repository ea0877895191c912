"""Finding the files to index: symbolic links (followed, loops and broken ones reported), unreadable
folders and special files each get one warning line like an unreadable file, and a warning stays one line
in a log however long its path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from kbqa.ingestion.pipeline import Progress, discover, ingest
from kbqa.schema import IngestReport
from tests.support import SRC_004, copy_corpus


def _find(root: Path) -> tuple[list[str], list[str]]:
    report = IngestReport()
    found = discover([root], report, Progress())
    return sorted(name for _, name in found), report.warnings


def _deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make `folder` unreadable as it is for a user without permission (the tests run as root, which
    `chmod 000` does not stop): listing it or looking at anything inside it fails with EACCES."""
    real_scandir, real_stat = os.scandir, os.stat

    def denied(path: object) -> bool:
        p = Path(os.fspath(path)).absolute()
        return p == folder or folder in p.parents

    def scandir(path: object = ".") -> object:
        if denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if folder in Path(os.fspath(path)).absolute().parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "stat", stat)


def test_loops_broken_links_unreadable_folders_and_special_files_each_get_one_warning(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "kept.txt").write_text("A note that is indexed.")
    (root / "top.md").write_text("# Top\n\nA page that is indexed.")
    (root / "notes" / "back-to-corpus").symlink_to(root, target_is_directory=True)  # a loop through a folder
    (root / "self-link.txt").symlink_to(root / "self-link.txt")  # a link to itself
    (root / "gone.pdf").symlink_to(tmp_path / "deleted.pdf")  # a broken link
    (root / "private").mkdir()
    (root / "private" / "secret.txt").write_text("Not readable.")
    os.mkfifo(root / "pipe.txt")  # reading it would block the ingest for ever
    _deny(monkeypatch, root / "private")

    names, warnings = _find(root)

    assert names == ["kept.txt", "top.md"]
    expected = {
        root / "notes" / "back-to-corpus": "symbolic link loop",
        root / "self-link.txt": "symbolic link loop",
        root / "gone.pdf": f"broken symbolic link (its target {tmp_path / 'deleted.pdf'} does not exist)",
        root / "private": "cannot read folder (Permission denied)",
        root / "pipe.txt": "not a regular file",
    }
    assert len(warnings) == len(expected), warnings
    for path, reason in expected.items():
        mine = [w for w in warnings if w.startswith(f"{path}: skipped, ")]
        assert len(mine) == 1 and reason in mine[0], (path, warnings)
    assert all("\n" not in w for w in warnings)


def test_a_folder_reached_through_a_symbolic_link_is_indexed(tmp_path):
    papers = tmp_path / "elsewhere" / "papers"
    papers.mkdir(parents=True)
    (papers / "report.txt").write_text("A report kept outside the corpus folder.")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "papers").symlink_to(papers, target_is_directory=True)
    (root / "again").symlink_to(papers, target_is_directory=True)  # the same folder twice: one copy, no warning
    assert _find(root) == (["report.txt"], [])


def test_hidden_folders_are_not_looked_into(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    (root / ".git").mkdir(parents=True)
    (root / "page.txt").write_text("Indexed.")
    _deny(monkeypatch, root / ".git")  # not the user's documents: not even a warning
    assert _find(root) == (["page.txt"], [])


def test_indexed_file_in_a_folder_that_becomes_unreadable_keeps_its_chunks(settings_factory, tmp_path, monkeypatch):
    corpus = copy_corpus(tmp_path / "corpus" / "sub", [SRC_004]).parent
    settings = settings_factory(corpus_dir=corpus)
    first = ingest(settings)
    assert first.files_indexed == 1 and first.chunks_total > 0
    _deny(monkeypatch, corpus / "sub")
    report = ingest(settings)
    assert report.warnings == [f"{corpus / 'sub'}: skipped, cannot read folder (Permission denied)"]
    assert report.files_removed == 0 and report.chunks_total == first.chunks_total


@pytest.mark.slow
def test_warnings_about_very_long_paths_are_one_line_each_in_a_log(run_cli, tmp_path):
    folder = tmp_path / "corpus"
    for n in range(4):
        folder = folder / f"a-rather-long-folder-name-of-the-kind-people-give-their-archives-{n}"
    folder.mkdir(parents=True)
    link = folder / ("a-dangling-link-to-a-report-that-was-moved-" * 3 + ".pdf")
    link.symlink_to(tmp_path / "moved.pdf")
    sheet = folder / ("a-spreadsheet-with-a-long-name-" * 4 + ".xlsx")
    sheet.write_bytes(b"PK not a document")
    assert len(str(link)) > 400 and len(str(sheet)) > 400
    proc = run_cli("ingest", tmp_path / "corpus", env={"COLUMNS": "80"})  # stderr is a pipe, as with 2>log
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert (
        f"warning: {link}: skipped, broken symbolic link (its target {tmp_path / 'moved.pdf'} does not exist)" in lines
    )
    assert f"warning: {sheet}: skipped, unsupported file type '.xlsx'" in lines
    assert sum(1 for line in lines if "a-rather-long-folder-name" in line) == 2  # nothing wrapped onto more lines

"""The command line: the --json contract, chat follow-ups, and one-line errors.

Most tests run `kbqa.cli.main` in-process (`cli`); the first-run test starts a real process (`run_cli`)."""

from __future__ import annotations

import json

import pytest

from tests.support import PHASE2

CITATION_KEYS = {"n", "source", "title", "text", "score"}


@pytest.fixture(scope="module")
def index_dir(corpus_kb):
    return corpus_kb.settings.data_dir


def test_ask_json_contract(cli, index_dir):
    proc = cli("ask", "--json", PHASE2, data_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert {"question", "answer", "citations", "abstained", "timings"} <= data.keys()
    assert data["question"] == PHASE2 and data["abstained"] is False
    assert "Sheffield" in data["answer"] and "Hull" in data["answer"] and "[1]" in data["answer"]
    assert data["citations"] and all(c.keys() >= CITATION_KEYS for c in data["citations"])
    first = data["citations"][0]
    assert first["n"] == 1 and first["source"] == "000_525025c0dd7eef87.txt"
    assert "Sheffield and Hull" in first["text"] and isinstance(first["score"], float)
    assert set(data["timings"]) >= {"retrieve_ms", "answer_ms"}
    assert data["model"] is None  # the extractive answerer


def test_ask_prints_answer_then_numbered_passages(cli, index_dir):
    proc = cli("ask", PHASE2, data_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Sheffield" in out and "\n[1] Enabling Social Action Programme — 000_525025c0dd7eef87.txt" in out


def test_ask_with_filter_and_k(cli, index_dir):
    proc = cli(
        "ask",
        "--json",
        "--k",
        "3",
        "--where",
        "source=001_e46ca3b02064783c.txt",
        "What is participatory budgeting?",
        data_dir=index_dir,
    )
    data = json.loads(proc.stdout)
    assert data["citations"] and {c["source"] for c in data["citations"]} == {"001_e46ca3b02064783c.txt"}


def test_out_of_scope_question_abstains(cli, index_dir):
    data = json.loads(cli("ask", "--json", "Who won the 2018 FIFA World Cup?", data_dir=index_dir).stdout)
    assert data["abstained"] is True and data["citations"] == []


def test_metadata_question_lists_every_entry_with_a_citation(cli, index_dir):
    data = json.loads(cli("ask", "--json", "Which projects did Angie Hart contribute to?", data_dir=index_dir).stdout)
    assert data["answer"].count("Imagine") == 2 and len(data["citations"]) == 2
    assert all("Angie Hart" in c["text"] for c in data["citations"])


def test_chat_json_resolves_follow_ups(cli, index_dir):
    questions = "What was the 'Local solutions to local problems' project about?\nWhen did it run?\n"
    proc = cli("chat", "--json", data_dir=index_dir, input=questions)
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.strip().splitlines())
    assert first["standalone_question"] == first["question"]
    assert second["question"] == "When did it run?"
    assert "Local solutions" in second["standalone_question"]
    assert "2016" in second["answer"]


def test_sources_lists_files_with_entry_and_chunk_counts(cli, index_dir):
    rows = json.loads(cli("sources", "--json", data_dir=index_dir).stdout)
    assert len(rows) == 5
    by_name = {r["source"]: r for r in rows}
    assert by_name["001_e46ca3b02064783c.txt"]["entries"] == 6 and all(r["chunks"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "question is empty"),
        (["ask", "--where", "colour=red", "q"], "unknown field"),
        (["ask", "--where", "year=soon", "q"], "expected a year"),
        (["ask", "--k", "0", "q"], "k=0"),
        (["ask", "--llm", "nonsense", "q"], "not a preset"),
        (["ingest", "/no/such/folder"], "/no/such/folder"),
    ],
)
def test_errors_are_one_line_without_traceback(cli, index_dir, args, message):
    proc = cli(*args, data_dir=index_dir)
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_corpus_is_a_clear_error(cli, tmp_path):
    proc = cli("ask", PHASE2, data_dir=tmp_path / "empty-index", corpus_dir=tmp_path / "no-corpus")
    assert proc.returncode == 1
    assert "no-corpus" in proc.stderr and "Traceback" not in proc.stderr


def test_first_ask_builds_the_index(run_cli, tmp_path):
    proc = run_cli("ask", "--json", PHASE2, data_dir=tmp_path / "fresh")
    assert proc.returncode == 0, proc.stderr
    assert "building it from" in proc.stderr
    assert "Hull" in json.loads(proc.stdout)["answer"]


def test_an_index_built_with_other_settings_is_named_with_the_fix(run_cli, tmp_path):
    """Answers still come from it, and the user is told which setting differs and what to run."""
    data = tmp_path / "data"
    assert run_cli("ingest", data_dir=data).returncode == 0
    assert "warning" not in run_cli("ask", PHASE2, data_dir=data).stderr
    proc = run_cli("ask", PHASE2, data_dir=data, env={"KBQA_CHUNK_SIZE": "300"})
    assert proc.returncode == 0 and "Hull" in proc.stdout
    assert "warning:" in proc.stderr and "chunk_size" in proc.stderr and "kbqa ingest" in proc.stderr


@pytest.mark.parametrize("where", ["build_parser", "offline"])
def test_ctrl_c_while_the_command_starts_is_one_line_not_a_traceback(where, monkeypatch, capsys):
    """Found by the index state machine: Ctrl-C in the first ~0.15 s of `kbqa ingest` (parsing arguments,
    importing settings) escaped the handler and printed Python's traceback."""
    import kbqa.cli
    import kbqa.config

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kbqa.cli if where == "build_parser" else kbqa.config, where, interrupted)
    assert kbqa.cli.main(["ingest"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("error: interrupted") and err.count("\n") == 1, err


def test_ctrl_c_during_an_extension_import_is_interrupted_not_an_internal_error(monkeypatch, capsys):
    """Found by the index state machine's long run: Ctrl-C while a C extension initialised (kbqa imports
    numpy, onnxruntime, chromadb lazily) surfaced as `internal error (ImportError: initialization failed)`
    with exit status 1. Python raises that ImportError with the KeyboardInterrupt as its context."""
    import kbqa.cli

    def import_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("initialization failed") from None  # as CPython does: context kept, not shown

    def run_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    for fake in (import_interrupted, run_interrupted):
        monkeypatch.setattr(kbqa.cli, "cmd_sources", fake)
        assert kbqa.cli.main(["sources"]) == 130
        err = capsys.readouterr().err
        assert err.startswith("error: interrupted") and "internal error" not in err, err

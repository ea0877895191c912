"""Answer quality: the default eval run must pass its gate — the CI gate and this test are the same run.

`kbqa eval run --config evals/configs/extractive.toml --gate` answers every item of the default sets
(dev, heldout, fresh, extra, trial; the trial documents rendered and indexed next to the corpus)
with the extractive answerer and checks the thresholds in that config's
[gate] tables, which sit a little under the measured baseline (evals/README.md "The gate"). The
thresholds live only there; this test runs the command and reads its run folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kbqa.eval.dataset import load_set
from tests.support import CORPUS, EVALS, cli_env

CONFIG = EVALS / "configs" / "extractive.toml"


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict:
    home = tmp_path_factory.mktemp("quality")
    env = cli_env(model_cache, home / "data", CORPUS, {"KBQA_EVAL_DATA_DIR": str(home / "eval-index")})
    command = [sys.executable, "-m", "kbqa.cli", "eval", "run", "--config", str(CONFIG), "--gate", "--out", str(home / "runs")]  # fmt: skip
    proc = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=900)
    print(proc.stdout)
    print(proc.stderr)
    folders = list((home / "runs").glob("*-extractive"))
    assert len(folders) == 1, proc.stderr
    summary = json.loads((folders[0] / "summary.json").read_text())
    return {"proc": proc, "summary": summary, "folder": folders[0]}


def test_the_default_run_passes_the_gate_in_its_config(default_run):
    proc = default_run["proc"]
    gate = [line for line in proc.stderr.splitlines() if line.startswith("gate:")]
    assert proc.returncode == 0, "\n".join(gate)
    assert re.fullmatch(r"gate: passed \(\d+ threshold\(s\)\)", gate[-1]), gate
    assert int(re.search(r"\((\d+) threshold", gate[-1])[1]) >= 10  # the config really holds the bars


def test_the_default_run_covers_every_set_and_writes_its_report(default_run):
    summary = default_run["summary"]
    assert set(summary["by_set"]) == {"dev", "heldout", "fresh", "extra", "trial"}
    assert summary["items"] == sum(len(load_set(EVALS / "sets" / f"{s}.jsonl").items) for s in summary["by_set"])
    assert (default_run["folder"] / "report.html").stat().st_size > 50_000


@pytest.mark.parametrize("name", ["dev", "heldout", "fresh", "extra", "trial"])
def test_hybrid_retrieval_is_at_least_as_good_as_each_half(default_run, name):
    figures = default_run["summary"]["by_set"][name]
    assert figures["hit@5"] >= figures["dense_hit@5"]
    assert figures["hit@5"] >= figures["bm25_hit@5"]


def test_every_answer_sentence_is_in_its_cited_passage(corpus_kb):
    """Extractive answers quote: each sentence before a marker occurs verbatim in the cited passage."""
    items = [i for i in load_set(EVALS / "sets" / "dev.jsonl").items if i.category == "single_fact"]
    for item in items:
        answer = corpus_kb.ask(item.question)
        by_n = {c.n: " ".join(c.text.split()) for c in answer.citations}
        for sentence, n in re.findall(r"(.+?) \[(\d+)\]", answer.answer.replace("\n", " ")):
            assert sentence.strip().lstrip("• ") in by_n[int(n)], (item.id, sentence)


@pytest.mark.parametrize(
    "question, expect",
    [
        ("How long will Co-production for Sustainability run?", "2012 – 2032"),
        ("How long is the Welsh Government's Sustainable Development Change Programme meant to run?", "2012 – 2032"),
        ("How long did the Enabling Social Action Programme run?", "March 2018 – March 2020"),
        ("How long did the Imagine project on universities and communities last?", "five-year"),
    ],
)
def test_how_long_questions_get_a_span_or_a_length_not_a_start_date(corpus_kb, question, expect):
    answer = corpus_kb.ask(question)
    assert expect in answer.answer, answer.answer
    assert any(expect in c.text for c in answer.citations)

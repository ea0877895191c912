"""The web UI's Quality tab: the newest finished eval run, its figures as summary.json has them, escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbqa.eval.run import load_config, run
from kbqa_ui import quality
from tests.support import CORPUS, ROOT, make_settings

SMALL = """
name = "tiny"
root = "{root}"
sets = ["dev"]
limit = 4
documents = ["corpus"]
runs_dir = "{runs}"
"""


def small_run(tmp_path: Path, model_cache: Path) -> Path:
    """A real run of the extractive answerer on 4 dev items; the folder of its runs."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(SMALL.format(root=ROOT, runs=runs), encoding="utf-8")
    settings = make_settings(tmp_path / "data", CORPUS, model_cache, eval_data_dir=tmp_path / "eval-index")
    run(load_config(cfg), settings)
    return runs


def test_no_run_yet_says_how_to_make_one(tmp_path):
    view = quality.latest(tmp_path / "runs")
    assert view.report is None
    assert quality.RUN_COMMAND in view.html


@pytest.mark.slow
def test_the_newest_finished_run_is_shown_with_its_own_figures(tmp_path, model_cache):
    runs = small_run(tmp_path, model_cache)
    finished = next(runs.iterdir())
    (runs / "99991231-235959-tiny").mkdir()  # newer, but unfinished (no summary.json): not shown
    view = quality.latest(runs)
    summary = json.loads((finished / "summary.json").read_text())
    assert view.report == finished / "report.html"
    assert finished.name in view.html
    dev = summary["by_set"]["dev"]
    assert f"<th>dev</th><td>{dev['items']}</td>" in view.html
    assert f"{dev['answer_accuracy']:.3f}" in view.html
    assert "Cohen" not in view.html  # no judge in this run: no agreement line


def test_run_text_is_escaped_and_headers_carry_definitions():
    summary = {
        "answerer": "<script>alert(1)</script>",
        "started": "2026-11-27T03:00:00",
        "items": 1,
        "metrics": {"answer_accuracy": 1.0},
        "by_set": {"<b>set</b>": {"items": 1, "answer_accuracy": 1.0}},
        "judge": {"agreement": {"faithfulness": {"metric": "citation_recall", "agreement": 0.5, "n": 2, "kappa": 0.0}}},
    }
    html = quality.summary_html("run<img src=x>", summary)
    assert "<script>" not in html and "<img" not in html and "<b>set</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;set&lt;/b&gt;" in html
    assert "<th title='answerable items: every `must` key in the answer" in html  # the metric's definition
    assert "judge faithfulness: agrees with citation_recall on 0.500 of 2 items" in html


def test_an_unreadable_summary_is_one_line_not_a_crash(tmp_path):
    folder = tmp_path / "runs" / "20261127-000000-x"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text("{not json", encoding="utf-8")
    view = quality.latest(tmp_path / "runs")
    assert view.report is None and "Cannot read" in view.html and "summary.json" in view.html

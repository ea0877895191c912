"""Runs end to end on the real corpus: resume after an interruption, a planted regression found by
compare, exports, the gate's exit status, and a hosted config skipped without a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbqa.errors import UsageError
from kbqa.eval.compare import as_text, compare
from kbqa.eval.export import export
from kbqa.eval.run import RunProgress, latest_finished, load_config, run
from tests.support import CORPUS, ROOT, make_settings

SMALL = """
name = "{name}"
root = "{root}"
sets = ["dev", "heldout"]
limit = 6
documents = ["corpus"]
runs_dir = "{runs}"
{extra}
[gate.fail_under]
correct = 0.5
"""


@pytest.fixture(scope="module")
def eval_settings(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    """Settings whose eval indexes live in one folder for the module (the corpus is indexed once)."""
    home = tmp_path_factory.mktemp("eval-home")
    return make_settings(home / "data", CORPUS, model_cache, eval_data_dir=home / "eval-index")


def config(tmp_path: Path, name: str = "small", extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SMALL.format(name=name, root=ROOT, runs=tmp_path / "runs", extra=extra), encoding="utf-8")
    return path


class StopAfter(RunProgress):
    """Simulates Ctrl-C after n items."""

    def __init__(self, n: int) -> None:
        self.n, self.seen, self.started = n, 0, None

    def start(self, total: int, done: int, folder: Path, resumed: bool) -> None:
        self.started = (total, done, folder, resumed)

    def item_done(self, record) -> None:
        self.seen += 1
        if self.seen >= self.n:
            raise KeyboardInterrupt


def comparable(summary: dict) -> str:
    """A summary without what legitimately differs between two runs of the same config (time, latency)."""
    drop = {"latency_p50_s", "latency_p95_s", "started"}

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in drop and k != "latency_s"}
        return value

    return json.dumps(clean(summary), sort_keys=True)


def test_an_interrupted_run_resumes_to_the_same_summary(tmp_path, eval_settings):
    cfg = load_config(config(tmp_path))
    whole = run(cfg, eval_settings, runs_dir=tmp_path / "whole")

    stop = StopAfter(5)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, eval_settings, stop)
    total, done, folder, resumed = stop.started
    assert (total, done, resumed) == (12, 0, False)
    assert len((folder / "items.jsonl").read_text().splitlines()) == 5
    assert not (folder / "summary.json").exists()

    again = StopAfter(10**6)
    resumed_run = run(cfg, eval_settings, again)
    assert again.started == (12, 5, folder, True) and again.seen == 7
    assert resumed_run.folder == folder
    assert [r.item.id for r in resumed_run.records] == [r.item.id for r in whole.records]
    assert comparable(resumed_run.summary) == comparable(whole.summary)
    assert (folder / "report.html").stat().st_size > 10_000
    assert latest_finished(tmp_path / "runs") == folder


def test_compare_finds_a_planted_regression(tmp_path, eval_settings):
    base = run(load_config(config(tmp_path, "base")), eval_settings)
    # planted: an abstention threshold no answer reaches, so answerable items are declined
    worse = run(load_config(config(tmp_path, "worse", "[settings]\nabstain_threshold = 0.999")), eval_settings)
    result = compare(base.folder, worse.folder)
    assert result.paired == 12
    lost = {x.item.id for x, _ in result.regressions}
    right_before = {r.item.id for r in base.records if r.metrics["correct"] == 1.0 and not r.item.abstain}
    assert lost <= right_before and len(lost) >= 5  # (catalogue answers to listing questions never abstain)
    correct = next(d for d in result.deltas if d.name == "correct")
    assert correct.delta < 0 and correct.worse == len(lost) and correct.better == 0
    assert correct.p < 0.05
    text = as_text(result)
    assert f"regressions (correct in A, not in B): {len(lost)}" in text
    assert "McNemar" in text


def test_exports_have_the_columns_ragas_and_deepeval_read(tmp_path, eval_settings):
    done = run(load_config(config(tmp_path)), eval_settings)
    rows = [json.loads(line) for line in export(done.folder, "ragas").read_text().splitlines()]
    assert len(rows) == 12
    assert set(rows[0]) == {"user_input", "response", "retrieved_contexts", "reference", "reference_contexts"}
    assert rows[0]["retrieved_contexts"] and rows[0]["reference"] == done.records[0].item.reference
    cases = json.loads(export(done.folder, "deepeval").read_text())
    assert set(cases[0]) == {"input", "actual_output", "expected_output", "retrieval_context", "context"}
    assert cases[0]["actual_output"] == done.records[0].answer["answer"]


@pytest.mark.slow
def test_the_gate_sets_the_exit_status_and_names_the_metric(run_cli, tmp_path, eval_settings):
    cfg = config(tmp_path)
    env = {"KBQA_EVAL_DATA_DIR": str(eval_settings.eval_data_dir)}
    passed = run_cli("eval", "run", "--config", cfg, "--gate", env=env)
    assert passed.returncode == 0, passed.stderr
    assert "gate: passed (1 threshold(s))" in passed.stderr
    assert "answer_accuracy" in passed.stdout and "report:" in passed.stdout

    failed = run_cli("eval", "run", "--config", cfg, "--fail-under", "correct=1.01", "dev:hit@5=1.01", env=env)
    assert failed.returncode == 1
    gate_lines = [line for line in failed.stderr.splitlines() if line.startswith("gate:")]
    assert gate_lines[0].startswith("gate: correct = ") and gate_lines[0].endswith("is below 1.01")
    assert gate_lines[1].startswith("gate: dev:hit@5 = ")
    assert gate_lines[-1] == "gate: FAILED (2 threshold(s))"

    wrong_way = run_cli("eval", "run", "--config", cfg, "--fail-under", "false_abstention=0.1", env=env)
    assert wrong_way.returncode == 2
    assert "false_abstention is lower-is-better; use --fail-over" in wrong_way.stderr


@pytest.mark.slow
def test_the_old_questions_form_still_runs_one_set(run_cli, tmp_path, eval_settings):
    one = tmp_path / "mine.jsonl"
    one.write_text((ROOT / "evals/sets/fresh.jsonl").read_text().splitlines()[0] + "\n")
    proc = run_cli("eval", "--questions", one, env={"KBQA_EVAL_DATA_DIR": str(eval_settings.eval_data_dir)})
    assert proc.returncode == 0, proc.stderr
    assert "`kbqa eval --questions` is now `kbqa eval run --sets" in proc.stderr
    assert (tmp_path / "evals" / "runs").is_dir()


def test_a_hosted_config_without_its_key_is_skipped_with_one_line(run_cli):
    proc = run_cli("eval", "run", "--config", ROOT / "evals/configs/openai.toml", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0
    assert proc.stderr.strip().splitlines() == [
        f"skipped: {ROOT / 'evals/configs/openai.toml'} needs OPENAI_API_KEY, which is not set"
    ]


def test_bad_configs_are_one_line_errors(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nsets = ["dev"]\n[settings]\nchunk_sise = 100\n')
    proc = run_cli("eval", "run", "--config", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}: settings.chunk_sise: not a kbqa setting (see README Configuration)"


def test_a_run_indexes_an_extra_folder_through_its_render_step(tmp_path, eval_settings):
    """`documents = ["corpus", {path, render}]`: the rendered documents are indexed next to the corpus."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "harbour.note").write_text(
        "Harbour Lane Garden\nThe Harbour Lane Garden was planted by nine neighbours in 2021.\n"
    )
    script = tmp_path / "render_notes.py"
    script.write_text(
        "from pathlib import Path\n"
        "def render(src, dest):\n"
        "    out = []\n"
        "    for p in Path(src).glob('*.note'):\n"
        "        target = Path(dest) / (p.stem + '.md')\n"
        "        title, body = p.read_text().split('\\n', 1)\n"
        "        target.write_text(f'# {title}\\n\\n{body}')\n"
        "        out.append(target)\n"
        "    return out\n"
    )
    item = {"id": "g1", "question": "How many neighbours planted the Harbour Lane Garden?", "history": [],
            "category": "how_many", "sources": ["harbour.md"], "evidence": ["planted by nine neighbours in 2021"],
            "reference": "Nine neighbours, in 2021.", "must": ["nine"], "abstain": False}  # fmt: skip
    (tmp_path / "garden.jsonl").write_text(json.dumps(item) + "\n")
    cfg = tmp_path / "garden.toml"
    cfg.write_text(
        f'name = "garden"\nroot = "{ROOT}"\nsets = ["{tmp_path / "garden.jsonl"}"]\nruns_dir = "{tmp_path / "runs"}"\n'
        f'documents = ["corpus", {{path = "{raw}", render = "{script}"}}]\n'
    )
    done = run(load_config(cfg), eval_settings)
    record = done.records[0]
    assert record.metrics["hit@1"] == 1.0 and record.retrieval["hybrid"][0].source == "harbour.md"
    assert record.metrics["answer_accuracy"] == 1.0, record.answer["answer"]

    cfg.write_text(cfg.read_text().replace(str(script), str(tmp_path / "missing.py")))
    with pytest.raises(UsageError, match=r"documents.render: .*missing.py does not exist"):
        run(load_config(cfg), eval_settings)


def test_a_run_can_be_resumed_with_fewer_items_per_set(tmp_path, eval_settings):
    cfg = load_config(config(tmp_path))  # limit 6: dev q001… first
    stop = StopAfter(4)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, eval_settings, stop)
    cfg.config.limit = 2
    again = StopAfter(10**6)
    done = run(cfg, eval_settings, again)
    assert again.started[:2] == (4, 2) and again.started[3] is True  # 2 of the 4 wanted were already done
    assert [f"{r.set}/{r.item.id}" for r in done.records] == ["dev/q001", "dev/q002", "heldout/h001", "heldout/h002"]
    assert done.summary["items"] == 4


def test_a_run_is_named_by_its_folder_or_its_name_and_a_missing_one_is_a_one_line_error(run_cli, tmp_path):
    runs = tmp_path / "evals" / "runs"
    (runs / "20261127-000000-base").mkdir(parents=True)
    (runs / "20261127-000000-base" / "items.jsonl").write_text("")
    for args in (("report", "nosuch"), ("compare", "20261127-000000-base", "nosuch"), ("export", "nosuch")):
        proc = run_cli("eval", *args, *(["--format", "ragas"] if args[0] == "export" else []))
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert (
            proc.stderr.strip()
            .splitlines()[-1]
            .endswith(
                "argument " + ("run_b" if args[0] == "compare" else "run") + ": no run 'nosuch': give a run folder "
                "(holding items.jsonl) or a name in evals/runs/"
            )
        )

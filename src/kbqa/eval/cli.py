"""The `kbqa eval` commands: run, validate, compare, export, add, report (see evals/README.md).

Kept apart from kbqa.cli so the main command line stays small; heavy imports happen inside commands.
`kbqa eval --questions FILE [--llm X]` (the old form) still works: it runs that one set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbqa.eval.progress import RunProgress

if TYPE_CHECKING:
    from kbqa.config import Settings

EXIT_GATE, EXIT_INTERRUPTED = 1, 130
DEFAULT_CONFIG = Path("evals/configs/extractive.toml")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="evaluation runs, reports, comparison and a CI gate (see evals/README.md)")
    p.add_argument("--questions", type=Path, help=argparse.SUPPRESS)  # the old form: one set, extractive or --llm
    p.add_argument("--llm", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_eval_legacy)
    ev = p.add_subparsers(metavar="SUBCOMMAND")

    r = ev.add_parser("run", help="answer and measure a config's question sets; writes evals/runs/<time>-<name>/")
    r.add_argument("--config", type=Path, help="run config (default evals/configs/extractive.toml)")
    r.add_argument("--sets", nargs="+", type=Path, help="set files to run instead of the config's (.jsonl)")
    r.add_argument("--llm", help="answer with this LLM preset or URL instead of the config's answerer")
    r.add_argument("--out", type=Path, help="folder for run folders (default: the config's runs_dir)")
    r.add_argument("--fresh", action="store_true", help="start a new run even if an unfinished one can be resumed")
    r.add_argument("--limit", type=int, metavar="N", help="only the first N items of each set (overrides the config)")
    r.add_argument("--gate", action="store_true", help="apply the config's [gate] thresholds")
    r.add_argument("--fail-under", nargs="+", metavar="[SET:]METRIC=VALUE", help="exit 1 if a metric is below")
    r.add_argument("--fail-over", nargs="+", metavar="[SET:]METRIC=VALUE", help="exit 1 if a metric is above")
    r.set_defaults(func=cmd_eval_run)

    v = ev.add_parser("validate", help="check set files: schema, unique ids, evidence verbatim in the documents")
    v.add_argument("files", nargs="*", type=Path, help="set files (default: evals/sets/*.jsonl but unseen.jsonl)")
    v.add_argument("--documents", nargs="+", type=Path, help="document folders (default: corpus, evals/trial_docs)")
    v.set_defaults(func=cmd_eval_validate)

    c = ev.add_parser("compare", help="metric deltas, significance and flipped items between two runs")
    c.add_argument("run_a", type=run_folder)
    c.add_argument("run_b", type=run_folder)
    c.add_argument("--html", type=Path, help="write the HTML comparison here (default: in RUN_B)")
    c.set_defaults(func=cmd_eval_compare)

    x = ev.add_parser("export", help="write a run's items for ragas or deepeval")
    x.add_argument("run", type=run_folder)
    x.add_argument("--format", required=True, choices=["ragas", "deepeval"])
    x.add_argument("--out", type=Path, help="file to write (default: in the run folder)")
    x.set_defaults(func=cmd_eval_export)

    a = ev.add_parser("add", help="validate items (e.g. from `kbqa feedback export`) and append them to a set")
    a.add_argument("file", type=Path)
    a.add_argument("--into", type=Path, required=True, help="the set file to append to, e.g. evals/sets/extra.jsonl")
    a.add_argument("--documents", nargs="+", type=Path, help="document folders (default: corpus, evals/trial_docs)")
    a.set_defaults(func=cmd_eval_add)

    s = ev.add_parser("report", help="recompute a run's metrics, summary.json and report.html from items.jsonl")
    s.add_argument("run", type=run_folder)
    s.add_argument("--markdown", action="store_true", help="also print the per-set and per-category tables as Markdown")
    s.set_defaults(func=cmd_eval_report)


# ------------------------------------------------------------------ commands


def cmd_eval_legacy(args: argparse.Namespace) -> int:
    from kbqa.errors import UsageError

    if args.questions is None:
        raise UsageError("kbqa eval needs a subcommand: run, validate, compare, export, add or report (kbqa eval -h)")
    print(f"note: `kbqa eval --questions` is now `kbqa eval run --sets {args.questions}`", file=sys.stderr)
    args.config, args.sets, args.out, args.fresh, args.gate = None, [args.questions], None, False, False
    args.fail_under = args.fail_over = None
    return cmd_eval_run(args)


def cmd_eval_run(args: argparse.Namespace) -> int:
    from kbqa.eval import run as runs
    from kbqa.eval.run import Gate, adhoc_config, load_config, missing_env, parse_bounds

    settings = _settings(args)
    config = args.config or DEFAULT_CONFIG
    if args.config is None and args.sets and not DEFAULT_CONFIG.is_file():
        loaded = adhoc_config(args.sets, settings.corpus_dir)
    else:
        loaded = load_config(config)
    if args.sets:
        loaded.config.sets = [str(p.resolve()) for p in args.sets]
        loaded.config.name = f"{loaded.config.name}-{'-'.join(p.stem for p in args.sets)}"
    if getattr(args, "limit", None) is not None:
        loaded.config.limit = args.limit
    if args.llm:
        loaded.config.answer.llm = args.llm
        loaded.config.name = f"{loaded.config.name}-{_slug(args.llm)}"
    missing = missing_env(loaded)
    if missing:
        print(f"skipped: {loaded.path} needs {', '.join(missing)}, which is not set", file=sys.stderr)
        return 0
    gate = Gate(
        fail_under={**(loaded.config.gate.fail_under if args.gate else {}), **parse_bounds(args.fail_under)},
        fail_over={**(loaded.config.gate.fail_over if args.gate else {}), **parse_bounds(args.fail_over)},
    )
    progress = _RunBar()
    try:
        result = runs.run(loaded, settings, progress, runs_dir=args.out, fresh=args.fresh)
    except KeyboardInterrupt:
        progress.close()
        where = f" in {progress.folder}" if progress.folder else ""
        print(f"interrupted: {progress.done} item(s) saved{where}; run the same command again to resume", file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    progress.close()
    print(summary_table(result.summary))
    print(f"\nrun folder: {result.folder}\nreport:     {result.folder / 'report.html'}")
    failures = runs.gate(result.summary, gate)
    for line in failures:
        print(f"gate: {line}", file=sys.stderr)
    if gate.fail_under or gate.fail_over:
        print(f"gate: {'FAILED' if failures else 'passed'} ({len(gate.fail_under) + len(gate.fail_over)} threshold(s))", file=sys.stderr)  # fmt: skip
    return EXIT_GATE if failures else 0


def cmd_eval_validate(args: argparse.Namespace) -> int:
    from kbqa.eval.dataset import DocumentLines, validate

    files = args.files or sorted(p for p in Path("evals/sets").glob("*.jsonl") if p.name != "unseen.jsonl")
    count, problems = validate(files, DocumentLines(_documents(args)))
    for line in problems:
        print(line)
    print(f"{count} item(s) in {len(files)} file(s): {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    from kbqa.eval.compare import as_html, as_text, compare

    result = compare(args.run_a, args.run_b)
    print(as_text(result))
    html = args.html or args.run_b / f"compare-{args.run_a.resolve().name}.html"
    html.write_text(as_html(result), encoding="utf-8")
    print(f"\nHTML: {html}")
    return 0


def cmd_eval_export(args: argparse.Namespace) -> int:
    from kbqa.eval.export import export

    print(export(args.run, args.format, args.out))
    return 0


def cmd_eval_add(args: argparse.Namespace) -> int:
    from kbqa.eval.dataset import DocumentLines, merge

    added = merge(args.file, args.into, DocumentLines(_documents(args)))
    print(f"{added} item(s) added to {args.into}")
    return 0


def cmd_eval_report(args: argparse.Namespace) -> int:
    from kbqa.eval.compare import load_run
    from kbqa.eval.metrics import item_values
    from kbqa.eval.report import write_report
    from kbqa.eval.run import read_records
    from kbqa.eval.summary import summarize

    records = read_records(args.run / "items.jsonl")
    for r in records:
        r.metrics = item_values(r)
    meta = json.loads((args.run / "run.json").read_text(encoding="utf-8"))
    old, _ = load_run(args.run) if (args.run / "summary.json").exists() else ({}, [])
    judge = {k: v for k, v in old.get("judge", {}).items() if k not in ("agreement", "unjudged")} or None
    summary = summarize(records, meta, judge)
    (args.run / "items.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    (args.run / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_report(args.run / "report.html", summary, records)
    print(markdown_tables(summary) if args.markdown else summary_table(summary))
    return 0


# ------------------------------------------------------------------ helpers


RUNS = Path("evals/runs")


def run_folder(text: str) -> Path:
    """A run given as its folder or by its name under evals/runs/ ("20261127-061927-extractive")."""
    for folder in (Path(text), RUNS / text):
        if (folder / "items.jsonl").is_file():
            return folder
    raise argparse.ArgumentTypeError(f"no run {text!r}: give a run folder (holding items.jsonl) or a name in {RUNS}/")


def summary_table(summary: dict[str, Any]) -> str:
    """The main metrics, overall and per set, as a plain table."""
    from kbqa.eval.summary import HEADLINE_METRICS

    groups = [("all", summary["metrics"] | {"items": summary["items"]}), *summary["by_set"].items()]
    head = f"{'':<20}" + "".join(f"{name[:10]:>11}" for name, _ in groups)
    lines = [head, f"{'items':<20}" + "".join(f"{figs['items']:>11}" for _, figs in groups)]
    for metric in HEADLINE_METRICS:
        cells = "".join(f"{_cell(figs.get(metric)):>11}" for _, figs in groups)
        lines.append(f"{metric:<20}{cells}")
    judge = summary.get("judge", {}).get("agreement", {})
    for aspect, a in judge.items():
        lines.append(f"judge {aspect}: agreement with {a['metric']} {a['agreement']:.3f} (κ {a['kappa']}, n {a['n']})")
    return "\n".join(lines)


MARKDOWN_METRICS = ["correct", "answer_accuracy", "abstention_recall", "false_abstention", "hit@5", "mrr", "ndcg@10", "citation_recall", "citation_precision", "judge_faithfulness", "judge_correctness", "latency_p50_s"]  # fmt: skip


def markdown_tables(summary: dict[str, Any]) -> str:
    """Per-set and per-category tables of the main metrics, for READMEs and notes (figures computed)."""
    names = [m for m in MARKDOWN_METRICS if summary["metrics"].get(m) is not None]
    head = "| | items | " + " | ".join(names) + " |\n|---|---|" + "---|" * len(names)
    rows = [("**all**", summary["metrics"] | {"items": summary["items"]}), *summary["by_set"].items()]
    out = ["Per set:", "", head]
    out += [
        f"| {name} | {figs['items']} | " + " | ".join(_cell(figs.get(m)) for m in names) + " |" for name, figs in rows
    ]
    out += ["", "Per category:", "", head]
    out += [f"| {name} | {figs['items']} | " + " | ".join(_cell(figs.get(m)) for m in names) + " |" for name, figs in summary["by_category"].items()]  # fmt: skip
    return "\n".join(out)


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:30]


def _settings(args: argparse.Namespace) -> Settings:
    from kbqa.config import Settings

    return Settings().with_overrides(data_dir=args.data_dir, corpus_dir=args.corpus_dir)


def _documents(args: argparse.Namespace) -> list[Path]:
    if args.documents:
        return list(args.documents)
    settings = _settings(args)
    return [Path(settings.corpus_dir)] + [p for p in [Path("evals/trial_docs")] if p.is_dir()]


class _RunBar(RunProgress):
    """Progress of a run on stderr: a rich bar on a terminal, else a line every 10 s."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.bar: Any = None
        self.folder: Path | None = None
        self.done = 0
        self.total = 0
        self._last = time.monotonic()

    # RunProgress protocol
    def start(self, total: int, done: int, folder: Path, resumed: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.folder, self.done, self.total = folder, done, total
        verb = f"resuming {folder} ({done} of {total} done)" if resumed else f"run folder {folder}"
        self.note(verb)
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                TimeRemainingColumn(), console=self.console, transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("eval", total=total, completed=done, last="")

    def item_done(self, record: Any) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, last=f"{record.set}/{record.item.id}")
        elif time.monotonic() - self._last >= 10 or self.done == self.total:
            self._last = time.monotonic()
            print(f"eval: {self.done}/{self.total} items", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

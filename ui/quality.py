"""The Quality tab: the latest finished `kbqa eval run`, its headline figures and its report.

Maintainers run evals from the command line (`kbqa eval run`); this view shows what the newest run
in `Settings.eval_runs_dir` measured, per set, without opening a terminal, and offers its
self-contained HTML report. Figures come from the run's summary.json, never typed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbqa.eval.metrics import METRICS
from kbqa.eval.run import latest_finished
from kbqa.eval.summary import HEADLINE_METRICS

from .render import esc

RUN_COMMAND = "kbqa eval run --config evals/configs/extractive.toml"


@dataclass
class QualityView:
    """What the tab shows: an HTML summary, and the report file to offer (None: no finished run)."""

    html: str
    report: Path | None = None


def latest(runs_dir: Path) -> QualityView:
    """The newest finished run under `runs_dir`, or a message saying how to make one."""
    folder = latest_finished(runs_dir)
    if folder is None:
        return QualityView(
            f"<p class='kbqa-notice'>No finished evaluation run in {esc(runs_dir)} yet. Run "
            f"<code>{esc(RUN_COMMAND)}</code> (about a minute), then press Refresh.</p>"
        )
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return QualityView(f"<p class='kbqa-notice'>Cannot read {esc(folder / 'summary.json')}: {esc(exc)}</p>")
    report = folder / "report.html"
    return QualityView(summary_html(folder.name, summary), report if report.is_file() else None)


def summary_html(run: str, summary: dict[str, Any]) -> str:
    """Headline metrics overall and per set, each column header explained by its definition."""
    groups = [("all", {**summary.get("metrics", {}), "items": summary.get("items")})]
    groups += list(summary.get("by_set", {}).items())
    names = [m for m in HEADLINE_METRICS if any(figs.get(m) is not None for _, figs in groups)]
    head = "".join(f"<th title='{esc(_definition(m))}'>{esc(m)}</th>" for m in names)
    rows = "".join(
        f"<tr><th>{esc(group)}</th><td>{esc(figs.get('items', ''))}</td>"
        + "".join(f"<td>{esc(_cell(figs.get(m)))}</td>" for m in names)
        + "</tr>"
        for group, figs in groups
    )
    about = [
        f"run <strong>{esc(run)}</strong>",
        f"answerer {esc(summary.get('answerer', '?'))}",
        f"started {esc(summary.get('started', '?'))}",
    ]
    if summary.get("git_commit"):
        about.append(f"commit {esc(str(summary['git_commit'])[:10])}")
    judge = "".join(
        f"<li>judge {esc(aspect)}: agrees with {esc(a.get('metric'))} on {esc(_cell(a.get('agreement')))} "
        f"of {esc(a.get('n'))} items (Cohen's κ {esc(a.get('kappa'))})</li>"
        for aspect, a in summary.get("judge", {}).get("agreement", {}).items()
    )
    return (
        f"<p>{' · '.join(about)}</p>"
        f"<table class='kbqa-quality'><thead><tr><th></th><th>items</th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        + (f"<ul>{judge}</ul>" if judge else "")
        + "<p>Hover a column for its definition; the report has every metric per category and every failure.</p>"
    )


def _definition(metric: str) -> str:
    return METRICS[metric].description if metric in METRICS else ""


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)

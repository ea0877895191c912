"""Comparing two runs: metric deltas, a paired significance note, and the items that flipped.

Items are paired by set and id. For 0/1 metrics the test is exact McNemar (a two-sided binomial test on
the discordant pairs); for other per-item metrics a two-sided sign test on the items that differ. With
sets of tens of items only large differences are significant, and the note says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from math import comb
from pathlib import Path
from typing import Any

from kbqa.errors import UsageError
from kbqa.eval.metrics import METRICS, Record, aggregate
from kbqa.eval.report import fmt, page, question_html
from kbqa.eval.run import read_records


def binomial_p(k: int, n: int) -> float:
    """Two-sided exact binomial test of k successes in n trials at p = 0.5."""
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return float(min(1.0, 2 * tail))


@dataclass
class Delta:
    name: str
    a: float | None
    b: float | None
    better: int = 0  # paired items where B beats A
    worse: int = 0
    p: float | None = None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class Comparison:
    a: Path
    b: Path
    paired: int
    only_a: int
    only_b: int
    deltas: list[Delta]
    regressions: list[tuple[Record, Record]] = field(default_factory=list)  # correct in A, not in B
    fixes: list[tuple[Record, Record]] = field(default_factory=list)


def load_run(folder: Path) -> tuple[dict[str, Any], list[Record]]:
    folder = Path(folder)
    summary = folder / "summary.json"
    if not summary.is_file():
        raise UsageError(f"{folder}: not a finished run (no summary.json); rerun its config to finish it")
    return json.loads(summary.read_text(encoding="utf-8")), read_records(folder / "items.jsonl")


def compare(a: Path, b: Path) -> Comparison:
    """Both runs measured on the items they share (so a small run can be set against a full one)."""
    load_run(a), load_run(b)  # both must be finished
    rec_a, rec_b = read_records(Path(a) / "items.jsonl"), read_records(Path(b) / "items.jsonl")
    by_a = {f"{r.set}/{r.item.id}": r for r in rec_a}
    by_b = {f"{r.set}/{r.item.id}": r for r in rec_b}
    common = [k for k in by_a if k in by_b]
    if not common:
        raise UsageError(f"{a} and {b} have no item in common (items are paired by set and id)")
    fig_a, fig_b = aggregate([by_a[k] for k in common]), aggregate([by_b[k] for k in common])
    deltas = []
    for name, metric in METRICS.items():
        d = Delta(name, fig_a.get(name), fig_b.get(name))
        if d.a is None and d.b is None:
            continue
        if metric.item is not None and d.a is not None and d.b is not None:
            for k in common:
                va, vb = by_a[k].metrics.get(name), by_b[k].metrics.get(name)
                if va is None or vb is None or va == vb:
                    continue
                if (vb > va) == metric.higher_is_better:
                    d.better += 1
                else:
                    d.worse += 1
            d.p = binomial_p(d.better, d.better + d.worse)
        deltas.append(d)
    pairs = [(by_a[k], by_b[k]) for k in common]
    return Comparison(
        a=Path(a),
        b=Path(b),
        paired=len(common),
        only_a=len(by_a) - len(common),
        only_b=len(by_b) - len(common),
        deltas=deltas,
        regressions=[(x, y) for x, y in pairs if x.metrics.get("correct") == 1.0 and y.metrics.get("correct") == 0.0],
        fixes=[(x, y) for x, y in pairs if x.metrics.get("correct") == 0.0 and y.metrics.get("correct") == 1.0],
    )


def significance(d: Delta) -> str:
    if d.p is None:
        return ""
    test = "McNemar" if METRICS[d.name].binary else "sign test"
    mark = " *" if d.p < 0.05 else ""
    return f"{d.better} better / {d.worse} worse, p = {d.p:.3f} ({test}){mark}"


def as_text(c: Comparison) -> str:
    lines = [
        f"A: {c.a}",
        f"B: {c.b}",
        f"{c.paired} items paired, the figures below are over them"
        + (f" ({c.only_a} only in A, {c.only_b} only in B, left out)" if c.only_a or c.only_b else ""),
        "",
        f"{'metric':<22} {'A':>9} {'B':>9} {'B - A':>9}  paired items",
    ]
    for d in c.deltas:
        delta = "" if d.delta is None else f"{d.delta:+.4f}"
        lines.append(f"{d.name:<22} {_num(d.a):>9} {_num(d.b):>9} {delta:>9}  {significance(d)}")
    lines += [
        "",
        "* p < 0.05. With a few dozen items per set, a change of a few items is within noise: read p, not the delta.",
        "",
        f"regressions (correct in A, not in B): {len(c.regressions)}",
    ]
    lines += [f"  {x.set}/{x.item.id}: {x.item.question}" for x, _ in c.regressions]
    lines.append(f"fixes (not correct in A, correct in B): {len(c.fixes)}")
    lines += [f"  {x.set}/{x.item.id}: {x.item.question}" for x, _ in c.fixes]
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


def as_html(c: Comparison) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(d.name)}</code></td><td class='num'>{fmt(d.a, d.name)}</td><td class='num'>{fmt(d.b, d.name)}</td>"
        f"<td class='num {_direction(d)}'>{'' if d.delta is None else f'{d.delta:+.4f}'}</td><td>{escape(significance(d))}</td></tr>"
        for d in c.deltas
    )

    def flips(pairs: list[tuple[Record, Record]], title: str, table_id: str) -> str:
        body = "".join(
            f"<tr><td class='id'>{escape(x.set)}/{escape(x.item.id)}</td><td>{question_html(x)}</td>"
            f"<td>{escape(x.answer.get('answer', ''))}</td><td>{escape(y.answer.get('answer', ''))}</td></tr>"
            for x, y in pairs
        )
        return (
            f"<h2>{escape(title)} ({len(pairs)})</h2><table id='{table_id}'><tr><th>item</th><th>question</th>"
            f"<th>answer in A</th><th>answer in B</th></tr>{body}</table>"
        )

    body = (
        "<h1>Comparison of two evaluation runs</h1>"
        f"<p class='meta'>A: {escape(str(c.a))}<br>B: {escape(str(c.b))}<br>{c.paired} items paired</p>"
        "<table id='deltas'><tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>paired items</th></tr>"
        f"{rows}</table><p class='small'>p: exact McNemar for 0/1 metrics, sign test otherwise; "
        "with a few dozen items a change of a few items is within noise.</p>"
        + flips(c.regressions, "Regressions: correct in A, not in B", "regressions")
        + flips(c.fixes, "Fixes: not correct in A, correct in B", "fixes")
    )
    return page("kbqa eval compare", body)


def _direction(d: Delta) -> str:
    if not d.delta:
        return ""
    return "up" if (d.delta > 0) == METRICS[d.name].higher_is_better else "down"

"""Self-contained HTML reports: inline CSS and SVG, no script, no network; every text from documents,
answers and questions is escaped (document text is data)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from kbqa.eval.metrics import METRICS, Record

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:16px 24px;color:#1d232b}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
.meta{color:#5a6470}table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d8dde3;padding:4px 7px;vertical-align:top;text-align:left}
th{background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #d8dde3;border-radius:6px;padding:8px 12px;min-width:130px}
.card b{display:block;font-size:22px}.card span{color:#5a6470;font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:24px}figure{margin:0}figcaption{color:#5a6470;font-size:12px}
.fail td{width:33%}.fail td.id{width:auto;white-space:nowrap}.q{font-weight:600}.hist{color:#5a6470;font-size:12px}
.cite{border-left:3px solid #9aa5b1;padding-left:6px;margin:4px 0;font-size:13px}.cite.bad{border-color:#c0392b}
.cite.ok{border-color:#2e8b57}.ev{background:#fff6d5;padding:1px 3px}.tag{font-size:11px;padding:0 4px;border-radius:3px;background:#eef1f4}
.down{color:#c0392b}.up{color:#2e8b57}.small{font-size:12px;color:#5a6470}
"""

MAIN_METRICS = ["correct", "answer_accuracy", "hit@5", "mrr", "citation_recall", "citation_precision", "abstention_recall", "false_abstention"]  # fmt: skip


def fmt(value: Any, name: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if name.endswith("_s"):
            return f"{value:.3f} s"
        if name == "cost_usd":
            return f"${value:.4f}"
        if name.endswith("_tokens"):
            return f"{value:.0f}"
        return f"{value:.3f}"
    return escape(str(value))


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body>{body}</body></html>"
    )


def bar_chart(labels: list[str], values: Sequence[float], title: str, x_label: str, color: str = "#3b6ea8") -> str:
    """An inline SVG bar chart (one bar per label, counts on top)."""
    width, height, left, bottom, top = 460, 220, 36, 42, 14
    n = max(1, len(values))
    peak = max(values, default=0) or 1
    slot = (width - left - 8) / n
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" stroke="#9aa5b1"/>',
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        h = (height - bottom - top) * value / peak
        x = left + i * slot + slot * 0.12
        y = height - bottom - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        if value:
            parts.append(f'<text x="{x + slot * 0.38:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{value:g}</text>')  # fmt: skip
        parts.append(
            f'<text x="{x + slot * 0.38:.1f}" y="{height - bottom + 13}" font-size="10" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(f'<text x="{width / 2}" y="{height - 6}" font-size="11" text-anchor="middle" fill="#5a6470">{escape(x_label)}</text>')  # fmt: skip
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(title)}</figcaption></figure>"


def latency_histogram(latencies: list[float], bins: int = 12) -> str:
    if not latencies:
        return "<p>No items.</p>"
    top = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] or max(latencies) or 1.0
    width = top / bins
    counts = [0] * bins
    for v in latencies:
        counts[min(bins - 1, int(v / width))] += 1
    labels = [f"{(i + 1) * width:.2g}" for i in range(bins)]
    labels[-1] = f">{(bins - 1) * width:.2g}"  # the last bin also holds anything past the 99th percentile
    return bar_chart(labels, counts, f"Latency of the last turn (items per bin, upper edge in s; {len(latencies)} items)", "seconds")  # fmt: skip


def rank_chart(first: dict[str, int]) -> str:
    return bar_chart(
        list(first),
        [float(v) for v in first.values()],
        "Rank of the first passage holding gold evidence (hybrid retrieval, answerable items)",
        "rank (none = not in the top 10)",
        color="#2e8b57",
    )


def metric_table(summary: dict[str, Any]) -> str:
    sets = list(summary["by_set"])
    head = "".join(f"<th>{escape(s)}</th>" for s in sets)
    rows = []
    for name, m in METRICS.items():
        values = [summary["metrics"].get(name)] + [summary["by_set"][s].get(name) for s in sets]
        if all(v is None for v in values):
            continue
        cells = "".join(f'<td class="num">{fmt(v, name)}</td>' for v in values)
        n = summary.get("n", {}).get(name)
        rows.append(
            f'<tr><td><code>{escape(name)}</code></td><td>{escape(m.group)}</td>{cells}<td class="num">{fmt(n)}</td>'
            f'<td class="small">{escape(m.description)}</td></tr>'
        )
    return (
        f'<div class="scroll"><table id="metrics"><tr><th>metric</th><th>group</th><th>all</th>{head}<th>n</th>'
        f"<th>definition</th></tr>{''.join(rows)}</table></div>"
    )


def category_table(summary: dict[str, Any]) -> str:
    cats = summary["by_category"]
    names = [n for n in METRICS if any(c.get(n) is not None for c in cats.values())]
    head = "".join(f"<th><code>{escape(n)}</code></th>" for n in names)
    rows = "".join(
        f"<tr><td>{escape(cat)}</td><td class='num'>{figs['items']}</td>"
        + "".join(f'<td class="num">{fmt(figs.get(n), n)}</td>' for n in names)
        + "</tr>"
        for cat, figs in cats.items()
    )
    return (
        f'<div class="scroll"><table id="categories"><tr><th>category</th><th>items</th>{head}</tr>{rows}</table></div>'
    )


def judge_section(summary: dict[str, Any]) -> str:
    judge = summary.get("judge")
    if not judge:
        return "<p>No judge in this run (deterministic metrics only).</p>"
    prompts = ", ".join(f"{escape(k)} ({escape(v)})" for k, v in judge.get("prompts", {}).items())
    rows = "".join(
        f"<tr><td>{escape(aspect)}</td><td><code>{escape(a['metric'])}</code> = 1</td><td class='num'>{a['n']}</td>"
        f"<td class='num'>{fmt(a['agreement'])}</td><td class='num'>{fmt(a['kappa'])}</td>"
        f"<td class='num'>{a['both_yes']} / {a['judge_yes_metric_no']} / {a['judge_no_metric_yes']} / {a['both_no']}</td></tr>"
        for aspect, a in judge.get("agreement", {}).items()
    )
    unjudged = ", ".join(f"{escape(k)}: {v}" for k, v in judge.get("unjudged", {}).items()) or "none"
    return (
        f"<p>Judge <code>{escape(str(judge.get('model')))}</code> at {escape(str(judge.get('base_url')))}; prompts {prompts}. "
        f"Unjudged items: {unjudged}.</p>"
        "<table id='agreement'><tr><th>judge</th><th>compared with</th><th>n</th><th>agreement</th><th>Cohen's κ</th>"
        f"<th>both yes / judge only / metric only / both no</th></tr>{rows}</table>"
    )


def _citations_html(record: Record) -> str:
    unsupported = {n for s in record.statements if not s.get("supported") for n in s.get("cites", [])}
    spans = record.item.evidence
    out = []
    for c in record.answer.get("citations", []):
        text = c.get("text", "")
        html_text = escape(text[:700] + ("…" if len(text) > 700 else ""))
        for span in spans:  # mark gold evidence inside the passage (escaped text on both sides)
            e = escape(span)
            if e and e in html_text:
                html_text = html_text.replace(e, f'<span class="ev">{e}</span>')
        verified = c.get("verified")
        flag = "" if verified is None else (" ✓ verified" if verified else " ✗ not verified")
        cls = "bad" if c.get("n") in unsupported else "ok"
        out.append(
            f'<div class="cite {cls}"><b>[{escape(str(c.get("n")))}]</b> {escape(c.get("title", ""))} '
            f'<span class="tag">{escape(c.get("source", ""))}</span>{escape(flag)}<br>{html_text}</div>'
        )
    return "".join(out) or '<span class="small">no citations</span>'


def _answer_html(record: Record) -> str:
    state = record.answer.get("status") or ("abstained" if record.abstained else "answered")
    by = record.answer.get("answerer")
    state = f"{state} · {by}" if by else state
    bad = [s for s in record.statements if not s.get("supported")]
    notes = "".join(f'<div class="small down">unsupported: {escape(s["text"][:200])}</div>' for s in bad)
    judge = "".join(
        f'<div class="small">judge {escape(a)}: {escape(v.verdict or "unjudged")} — {escape(v.reason or v.error or "")}</div>'
        for a, v in record.judge.items()
    )
    return f'<span class="tag">{state}</span> {escape(record.answer.get("answer", ""))}{notes}{judge}'


def _gold_html(record: Record) -> str:
    item = record.item
    if item.abstain:
        return f'<span class="tag">should decline</span> {escape(item.reference)}'
    ev = "".join(f'<div class="ev">{escape(e)}</div>' for e in item.evidence)
    must = ", ".join(escape(m) for m in item.must)
    return (
        f"{escape(item.reference)}<div class='small'>must: {must}; sources: {escape(', '.join(item.sources))}</div>{ev}"
    )


def question_html(record: Record) -> str:
    history = "".join(f'<div class="hist">earlier: {escape(q)}</div>' for q in record.item.history)
    return f'{history}<div class="q">{escape(record.item.question)}</div>'


def failures_table(records: list[Record], limit: int = 300) -> str:
    failed = [r for r in records if r.metrics.get("correct") == 0.0]
    if not failed:
        return "<p>No failures.</p>"
    rows = "".join(
        f"<tr><td class='id'>{escape(r.item.id)}<br><span class='small'>{escape(r.set)} · {escape(r.item.category)}</span></td>"
        f"<td>{question_html(r)}<div style='margin-top:6px'>{_answer_html(r)}</div></td>"
        f"<td>{_citations_html(r)}</td><td>{_gold_html(r)}</td></tr>"
        for r in failed[:limit]
    )
    more = f"<p class='small'>{len(failed) - limit} more in items.jsonl.</p>" if len(failed) > limit else ""
    return (
        f"<p>{len(failed)} item(s) not correct: an answerable item without every answer key and a cited passage "
        "holding gold evidence, or an item that should be declined and was answered.</p>"
        "<table id='failures' class='fail'><tr><th>item</th><th>question and answer</th><th>citations</th>"
        f"<th>gold</th></tr>{rows}</table>{more}"
    )


def render_run(summary: dict[str, Any], records: list[Record]) -> str:
    m = summary["metrics"]
    cards = "".join(
        f'<div class="card"><span>{escape(n)}</span><b>{fmt(m.get(n), n)}</b></div>'
        for n in MAIN_METRICS
        if m.get(n) is not None
    )
    dist = summary["distributions"]
    body = (
        f"<h1>Evaluation run {escape(str(summary.get('name')))}</h1>"
        f"<p class='meta'>{escape(str(summary.get('started')))} · commit {escape(str(summary.get('git_commit')))} · "
        f"answerer {escape(str(summary.get('answerer')))} · {summary['items']} items "
        f"({summary['answerable']} answerable, {summary['abstain_items']} to decline) · sets {escape(', '.join(summary['by_set']))}</p>"
        f'<div class="cards">{cards}</div>'
        f"<h2>Metrics</h2>{metric_table(summary)}"
        f"<h2>Per category</h2>{category_table(summary)}"
        f"<h2>Plots</h2><div class='plots'>{latency_histogram(dist['latency_s'])}{rank_chart(dist['first_relevant_rank'])}</div>"
        f"<h2>Judge</h2>{judge_section(summary)}"
        f"<h2>Failures</h2>{failures_table(records)}"
    )
    return page(f"kbqa eval: {summary.get('name')}", body)


def write_report(path: Path, summary: dict[str, Any], records: list[Record]) -> None:
    path.write_text(render_run(summary, records), encoding="utf-8")

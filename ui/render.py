"""HTML for the web UI: answers with clickable [n] markers, source cards, the full-entry view.

Pure functions from kbqa's records to HTML strings, so they are unit-tested without a browser.
Every piece of document text, model output, question and file name goes through `esc()`: a
document containing `<script>` or `<img onerror=…>` shows as text. (gr.HTML inserts its value
with innerHTML and does not sanitise; the chatbot sanitises, but we do not rely on it.)

Links and buttons carry what they point to in their `href`/`data-` attributes; the page's
script (ui/app.py) turns clicks on them into Gradio events.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kbqa.schema import Answer, Citation, Entry

from .uploads import UploadReport

MARKER = re.compile(r"\[(\d+)\]")
PREVIEW_CHARS = 160

EMPTY_PANEL = (
    '<div class="kbqa-panel-empty"><p><strong>Sources</strong></p>'
    "<p>Each answer cites its passages as [1], [2], … Click a number to see the passage here, "
    "with the sentence the answer relies on highlighted, and what the knowledge base records "
    "about its entry.</p></div>"
)


def esc(text: object) -> str:
    """HTML-escape anything shown to the user (quotes too: values also go into attributes)."""
    return html.escape(str(text), quote=True)


def paragraphs(text: str) -> str:
    """Escaped text with its line breaks kept, as one HTML block.

    No blank line may appear in the result: the chatbot runs Markdown over messages, and a
    single HTML block with no blank line in it is passed through as HTML, not as Markdown.
    """
    lines = [esc(line) for line in text.strip().splitlines()]
    return "<br>".join(line for line in lines if line.strip()) if lines else ""


# ------------------------------------------------------------------ highlights


def merge_spans(spans: Sequence[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """Sorted, non-overlapping (start, end) spans clipped to [0, length]; empty ones dropped."""
    clipped = sorted((max(0, int(s)), min(length, int(e))) for s, e in spans)
    merged: list[tuple[int, int]] = []
    for start, end in clipped:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, spans: Sequence[Sequence[int]]) -> str:
    """`text` escaped, with the character spans wrapped in <mark> (the cited sentences)."""
    out: list[str] = []
    pos = 0
    for start, end in merge_spans(spans, len(text)):
        out.append(esc(text[pos:start]))
        out.append(f'<mark class="kbqa-hl">{esc(text[start:end])}</mark>')
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


def cited_sentences(citation: Citation) -> str:
    """The highlighted part of a passage as plain text (its first sentence if nothing is highlighted)."""
    spans = merge_spans(citation.highlights or [], len(citation.text))
    if spans:
        return " … ".join(citation.text[s:e].strip() for s, e in spans)
    return citation.text.strip().split(". ")[0]


# ------------------------------------------------------------------ answers


def cite_link(turn: int, citation: Citation) -> str:
    """The clickable [n] in an answer: a real link (focusable, Enter opens it) to its source card."""
    unverified = citation.verified is False
    cls = "kbqa-cite kbqa-unverified" if unverified else "kbqa-cite"
    title = f"Source {citation.n}: {citation.title} ({citation.source})"
    if unverified:
        title += " — not verified: this passage does not support every sentence citing it"
    mark = "⚠" if unverified else ""
    return f'<a class="{cls}" href="#kbqa-cite-{turn}-{citation.n}" title="{esc(title)}">[{citation.n}]{mark}</a>'


def link_markers(escaped: str, turn: int, citations: Sequence[Citation]) -> str:
    """Replace each [n] of an (already escaped) answer by the link to its citation; unknown n stay text."""
    by_n = {c.n: c for c in citations}

    def sub(m: re.Match[str]) -> str:
        citation = by_n.get(int(m.group(1)))
        return cite_link(turn, citation) if citation else m.group(0)

    return MARKER.sub(sub, escaped)


def status_banner(answer: Answer) -> str:
    """A visible note for answers that are not plain cited answers, with the reason."""
    if answer.abstained:
        label, cls = "Not answered from the knowledge base", "kbqa-abstained"
    elif answer.fallback:
        label, cls = "The LLM failed: this is the extractive answer", "kbqa-fallback"
    elif answer.unsupported:
        label, cls = "Unsupported: no sentence of this answer could be verified against its sources", "kbqa-unsupported"
    elif any(c.verified is False for c in answer.citations):
        label, cls = "Some citations are not verified (marked ⚠)", "kbqa-partial"
    else:
        return ""
    return f'<div class="kbqa-status {cls}">{esc(label)}</div>'


def answer_meta(answer: Answer, seconds: float | None = None) -> str:
    """One small line under an answer: which answerer (and model) produced it, time, the search used."""
    who = answer.answerer or ("llm" if answer.model else "extractive")
    parts = [f"{who} · {answer.model}" if answer.model else who]
    if seconds is not None:
        parts.append(f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s")
    asked = answer.standalone_question
    if asked and asked != answer.question:
        parts.append(f"searched as “{asked}”")
    return f'<div class="kbqa-meta-line">{esc(" · ".join(parts))}</div>'


def answer_html(answer: Answer, turn: int, seconds: float | None = None) -> str:
    """The final chat message of turn `turn`: status, the answer with linked markers, notice, meta line."""
    body = link_markers(paragraphs(answer.answer), turn, answer.citations)
    notice = f'<div class="kbqa-notice">{esc(answer.notice)}</div>' if answer.notice else ""
    return (
        f'<div class="kbqa-answer" id="kbqa-answer-{turn}">{status_banner(answer)}'
        f'<div class="kbqa-answer-text">{body}</div>{notice}{answer_meta(answer, seconds)}</div>'
    )


def partial_html(text: str, note: str | None = None) -> str:
    """An answer while it streams in (markers are linked once it is complete)."""
    extra = f'<div class="kbqa-notice">{esc(note)}</div>' if note else ""
    return (
        f'<div class="kbqa-answer kbqa-streaming">{extra}<div class="kbqa-answer-text">{paragraphs(text)}</div></div>'
    )


def error_html(message: str) -> str:
    return f'<div class="kbqa-answer"><div class="kbqa-status kbqa-error">{esc(message)}</div></div>'


def question_html(question: str) -> str:
    return f'<div class="kbqa-question">{paragraphs(question)}</div>'


# ------------------------------------------------------------------ source cards


def years(entry: Entry | None) -> str:
    if entry is None or entry.year_start is None:
        return ""
    if entry.year_end in (None, entry.year_start):
        return str(entry.year_start)
    return f"{entry.year_start}–{entry.year_end}"


def verification_badge(citation: Citation) -> str:
    if citation.verified is True:
        return '<span class="kbqa-badge kbqa-verified" title="Every sentence citing it is supported by it">✓ verified</span>'
    if citation.verified is False:
        return (
            '<span class="kbqa-badge kbqa-unverified" title="Not every sentence citing it is supported by it">'
            "⚠ not verified</span>"
        )
    return '<span class="kbqa-badge kbqa-quoted" title="The answer quotes this passage">quoted</span>'


def meta_list(citation: Citation, entry: Entry | None) -> str:
    """What the knowledge base records about the cited entry, as a definition list."""
    rows = [("Source file", citation.source)]
    if entry is not None and entry.parent:
        rows.append(("Part of", entry.parent))
    if y := years(entry):
        rows.append(("Years", y))
    if entry is not None and entry.keywords:
        rows.append(("Keywords", ", ".join(entry.keywords)))
    if entry is not None and entry.contributors:
        rows.append(("Contributors", "; ".join(entry.contributors)))
    rows.append(("Score", f"{citation.score:.2f} (how closely the passage matches the question, 0–1)"))
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<dl class="kbqa-meta">{items}</dl>'


def card_html(citation: Citation, entry: Entry | None, turn: int, selected: bool = False) -> str:
    """One source card: header (n, title, verification), the cited sentence as a preview, and when
    open the entry's metadata and the whole passage with the cited sentence(s) highlighted."""
    n = citation.n
    preview = cited_sentences(citation)
    if len(preview) > PREVIEW_CHARS:
        preview = preview[:PREVIEW_CHARS].rsplit(" ", 1)[0] + " …"
    attrs = f'class="kbqa-card{" kbqa-selected" if selected else ""}" id="kbqa-card-{turn}-{n}"'
    if selected:
        attrs += " open"
    entry_button = (
        f'<button type="button" class="kbqa-open-entry" data-turn="{turn}" data-n="{n}">Open full entry</button>'
        if citation.entry_id
        else ""
    )
    return (
        f"<details {attrs}>"
        f'<summary><span class="kbqa-card-n">[{n}]</span> <span class="kbqa-card-title">{esc(citation.title)}</span> '
        f"{verification_badge(citation)}"
        f'<span class="kbqa-card-preview">{esc(preview)}</span></summary>'
        f'<div class="kbqa-card-body">{meta_list(citation, entry)}'
        f'<blockquote class="kbqa-passage">{highlight(citation.text, citation.highlights or [])}</blockquote>'
        f"{entry_button}</div></details>"
    )


@dataclass
class CardData:
    """A citation with the catalogue record of its entry (None when the entry is unknown)."""

    citation: Citation
    entry: Entry | None


def panel_html(turn: int, question: str, cards: Sequence[CardData], selected: int | None = None) -> str:
    """The side panel for one answer: its question and one card per citation (`selected` open)."""
    if not cards:
        return (
            f'<div class="kbqa-panel" data-turn="{turn}"><p class="kbqa-panel-head">Answer {turn + 1}: '
            f"{esc(question)}</p><p>This answer cites no passages.</p></div>"
        )
    body = "".join(card_html(c.citation, c.entry, turn, c.citation.n == selected) for c in cards)
    return (
        f'<div class="kbqa-panel" data-turn="{turn}"'
        + (f' data-selected="kbqa-card-{turn}-{selected}"' if selected is not None else "")
        + f'><p class="kbqa-panel-head">Sources of answer {turn + 1}: {esc(question)}</p>{body}</div>'
    )


def entry_html(entry: Entry, text: str, citation: Citation, turn: int) -> str:
    """The full entry a citation comes from, the cited passage located in it and its sentences highlighted."""
    start = text.find(citation.text) if citation.text else -1
    if start >= 0:
        body = (
            highlight(text[:start], [])
            + f'<span class="kbqa-cited-passage">{highlight(citation.text, citation.highlights or [])}</span>'
            + highlight(text[start + len(citation.text) :], [])
        )
    else:  # the passage is not a verbatim slice of the entry text (should not happen): show it apart
        body = highlight(text, [])
    head = (
        f'<button type="button" class="kbqa-back" data-turn="{turn}" data-n="{citation.n}">← Back to sources</button>'
        f'<h3 class="kbqa-entry-title">{esc(entry.title)}</h3>'
    )
    return (
        f'<div class="kbqa-panel kbqa-entry" data-turn="{turn}" data-selected="kbqa-entry-{turn}">{head}'
        f"{meta_list(citation, entry)}"
        f'<div class="kbqa-entry-text" id="kbqa-entry-{turn}">{paragraphs_keep_html(body)}</div></div>'
    )


def paragraphs_keep_html(rendered: str) -> str:
    """Line breaks of already-escaped/marked-up text as <br> (no blank lines: one HTML block)."""
    return "<br>".join(line for line in rendered.splitlines() if line.strip())


def upload_report_html(report: UploadReport) -> str:
    """The result of an upload: one line per file (indexed, or why not), then the ingest summary."""
    items = "".join(
        f'<li class="{"kbqa-ok" if f.ok else "kbqa-failed"}">{"✓" if f.ok else "✗"} <strong>{esc(f.name)}</strong>: '
        f"{esc(f.message)}</li>"
        for f in report.files
    )
    summary = f'<p class="kbqa-meta-line">{esc(report.summary)}</p>' if report.summary else ""
    return f'<div class="kbqa-upload-report"><ul>{items}</ul>{summary}</div>'


@dataclass
class SourceRow:
    """One indexed file as the Documents tab lists it."""

    source: str
    title: str
    entries: int
    chunks: int
    uploaded: bool
    ingested_at: float | None


def sources_table_html(rows: Sequence[SourceRow]) -> str:
    """The indexed files as a table (escaped: file names and titles come from documents and uploads)."""
    if not rows:
        return '<p class="kbqa-panel-empty">No files are indexed yet.</p>'
    head = "".join(
        f'<th class="kbqa-num">{h}</th>' if h in ("Entries", "Passages") else f"<th>{h}</th>"
        for h in ("File", "Title", "Entries", "Passages", "Origin", "Added")
    )
    body = "".join(
        "<tr>"
        f'<td class="kbqa-file">{esc(r.source)}</td><td>{esc(r.title)}</td>'
        f'<td class="kbqa-num">{r.entries}</td><td class="kbqa-num">{r.chunks}</td>'
        f"<td>{'uploaded' if r.uploaded else 'corpus'}</td>"
        f"<td>{esc(time.strftime('%Y-%m-%d %H:%M', time.localtime(r.ingested_at))) if r.ingested_at else ''}</td>"
        "</tr>"
        for r in rows
    )
    total = sum(r.chunks for r in rows)
    return (
        f'<table class="kbqa-sources"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f'<p class="kbqa-meta-line">{len(rows)} files, {total} passages</p>'
    )

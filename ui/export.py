"""A conversation as Markdown, with each answer's cited passages: a researcher's record of a session.

Document text and answers are escaped for Markdown (backslashes before the characters Markdown
and inline HTML react to), so a passage containing `<script>` or `[x](javascript:…)` stays text
in any viewer; the answers' [n] markers are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from .render import merge_spans
from .session import Turn, filter_dict

# Brackets (links), emphasis, code, inline HTML, tables, strike-through; "#" only starts a heading at a line start
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])|^(#)", re.MULTILINE)
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def md_escape(text: str) -> str:
    """Text that renders as itself in Markdown (no emphasis, links, HTML or headings)."""
    return _SPECIAL.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)


def md_answer(text: str) -> str:
    """An answer escaped for Markdown, its [n] markers kept readable."""
    return _ESCAPED_MARKER.sub(r"[\1]", md_escape(text))


def md_passage(text: str, spans: Sequence[Sequence[int]]) -> str:
    """A passage as a block quote, the cited sentence(s) in bold."""
    out, pos = [], 0
    for start, end in merge_spans(spans, len(text)):
        out += [md_escape(text[pos:start]), f"**{md_escape(text[start:end].strip())}**"]
        pos = end
    out.append(md_escape(text[pos:]))
    body = "".join(out)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in body.splitlines())


def turn_markdown(index: int, turn: Turn) -> str:
    answer = turn.answer
    lines = [f"## {index + 1}. {md_escape(turn.question)}", ""]
    if answer.abstained:
        lines += ["*Not answered from the knowledge base.*", ""]
    elif answer.fallback:
        lines += ["*The LLM failed; this is the extractive answer.*", ""]
    elif answer.unsupported:
        lines += ["*Unsupported: no sentence could be verified against its sources.*", ""]
    lines += [md_answer(answer.answer), ""]
    if answer.notice:
        lines += [f"*Note: {md_escape(answer.notice)}*", ""]
    how = [answer.answerer or "extractive"] + ([answer.model] if answer.model else [])
    how += [f"{k}={v}" for k, v in filter_dict(turn.options.filters).items()]
    if answer.standalone_question and answer.standalone_question != answer.question:
        how.append(f"searched as “{answer.standalone_question}”")
    lines += [f"*{md_escape(' · '.join(str(h) for h in how))}*", ""]
    for c in answer.citations:
        check = {True: ", verified", False: ", NOT verified", None: ""}[c.verified]
        lines += [
            f"[{c.n}] **{md_escape(c.title)}** — {md_escape(c.source)} (score {c.score:.2f}{check})",
            "",
            md_passage(c.text, c.highlights or []),
            "",
        ]
    return "\n".join(lines)


def conversation_markdown(turns: Sequence[Turn], now: datetime | None = None) -> str:
    """The whole conversation, oldest turn first."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z")
    head = [
        f"# kbqa conversation, {when}",
        "",
        f"{len(turns)} question(s). Cited passages follow each answer; the sentences the answer relies on are in bold.",
        "",
    ]
    return "\n".join(head + [turn_markdown(i, t) for i, t in enumerate(turns)]).rstrip() + "\n"

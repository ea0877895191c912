"""The web UI's HTML and Markdown: escaping, highlights, [n] links, status marks, the Markdown export."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from kbqa.schema import Answer, Citation, Entry
from kbqa_ui import render
from kbqa_ui.export import conversation_markdown, md_escape
from kbqa_ui.session import AskOptions, Turn

XSS = 'Before <script>alert(1)</script> and <img src=x onerror="alert(2)"> after.'
PASSAGE = "Phase 2 runs to 2020. DCMS works with the universities of Sheffield and Hull on it. Other text."


class _Tags(HTMLParser):
    """Every start tag with its attributes, to assert what a browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def cite(n: int = 1, text: str = PASSAGE, **kw: object) -> Citation:
    start = text.find("DCMS")
    values: dict = {
        "source": "000_525025c0dd7eef87.txt",
        "title": "Enabling Social Action Programme",
        "score": 0.8,
        "entry_id": "000_525025c0dd7eef87.txt#0",
        "highlights": [(start, text.find("on it.") + 6)] if start >= 0 else [],
    }
    values.update(kw)
    return Citation(n=n, text=text, **values)


def entry(**kw: object) -> Entry:
    values: dict = {
        "entry_id": "000_525025c0dd7eef87.txt#0",
        "source": "000_525025c0dd7eef87.txt",
        "title": "Enabling Social Action Programme",
        "year_start": 2018,
        "year_end": 2020,
        "keywords": ["social action", "commissioning"],
        "contributors": ["Jane Doe (University of Sheffield)"],
    }
    values.update(kw)
    return Entry(**values)


def answer(
    text: str = "DCMS works with Sheffield and Hull. [1]", citations: list[Citation] | None = None, **kw
) -> Answer:
    return Answer(
        question="Who are the partners?", answer=text, citations=[cite()] if citations is None else citations, **kw
    )


def test_highlight_marks_the_cited_sentence_and_escapes_the_rest():
    out = render.highlight(PASSAGE, cite().highlights)
    assert out.count("<mark") == 1
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", out).group(1)
    assert marked == "DCMS works with the universities of Sheffield and Hull on it."
    assert out.startswith("Phase 2 runs to 2020. ") and out.endswith(" Other text.")


@pytest.mark.parametrize(
    "spans, expected",
    [
        ([(5, 2)], []),  # empty/backwards
        ([(-4, 3)], [(0, 3)]),  # clipped at the start
        ([(10, 999)], [(10, 20)]),  # clipped at the end
        ([(8, 12), (0, 4), (3, 6)], [(0, 6), (8, 12)]),  # unsorted, overlapping
        ([(0, 4), (4, 8)], [(0, 8)]),  # touching
    ],
)
def test_spans_are_clipped_sorted_and_merged(spans, expected):
    assert render.merge_spans(spans, 20) == expected


def test_highlighted_document_html_is_inert():
    text = XSS + " The cited sentence is here."
    out = render.highlight(text, [(text.index("The cited"), len(text))])
    assert [t for t, _ in tags(out)] == ["mark"]  # the only element is ours
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "onerror=&quot;alert(2)&quot;" in out


def test_answer_markers_become_links_to_their_cards():
    html = render.answer_html(answer("A [1]. B [2]. C [7].", [cite(1), cite(2)]), turn=3)
    links = [a for t, a in tags(html) if t == "a"]
    assert [a["href"] for a in links] == ["#kbqa-cite-3-1", "#kbqa-cite-3-2"]
    assert all(a["class"] == "kbqa-cite" for a in links)
    assert "[7]" in html  # a marker with no citation stays text


def test_answer_text_is_escaped_and_kept_out_of_markdown():
    html = render.answer_html(answer(XSS + " *not emphasis*\n\nSecond paragraph [1]"), turn=0)
    assert all(t in {"div", "a", "br"} for t, _ in tags(html))
    assert "&lt;script&gt;" in html
    assert "\n\n" not in html  # one HTML block: the chatbot's Markdown pass leaves it alone


def test_unverified_citation_is_marked_with_its_reason():
    html = render.answer_html(answer("Claim. [1]", [cite(verified=False)], answerer="llm", model="qwen"), 0)
    link = next(a for t, a in tags(html) if t == "a")
    assert "kbqa-unverified" in link["class"] and "not verified" in link["title"]
    assert "⚠" in html and "Some citations are not verified" in html
    assert "llm · qwen" in html  # the model is named on the answer


@pytest.mark.parametrize(
    "status, label",
    [
        ("abstained", "Not answered from the knowledge base"),
        ("fallback", "The LLM answer could not be used: this is the extractive answer"),
        ("unsupported", "Unsupported"),
    ],
)
def test_status_is_shown_with_the_notice(status, label):
    html = render.answer_html(answer(status=status, notice="endpoint unreachable <b>x</b>"), 0)
    assert label in html and "endpoint unreachable &lt;b&gt;x&lt;/b&gt;" in html


def test_follow_up_shows_what_was_searched():
    a = answer(standalone_question="Who led it? (Tell me about Imagine)")
    assert "searched as “Who led it? (Tell me about Imagine)”" in render.answer_html(a, 1)


def test_card_shows_entry_metadata_and_highlighted_passage():
    html = render.card_html(cite(), entry(), turn=2, selected=True)
    opened = tags(html)[0]
    assert opened[0] == "details" and "open" in opened[1] and opened[1]["id"] == "kbqa-card-2-1"
    for text in (
        "Enabling Social Action Programme",
        "000_525025c0dd7eef87.txt",
        "2018–2020",
        "social action, commissioning",
        "Jane Doe (University of Sheffield)",
        "0.80",
    ):
        assert text in html
    assert "<mark" in html
    button = next(a for t, a in tags(html) if t == "button")
    assert button["data-turn"] == "2" and button["data-n"] == "1"


def test_card_escapes_metadata_and_title():
    evil = '<img src=x onerror="alert(3)">'
    html = render.card_html(cite(title=evil, source=evil + ".txt"), entry(keywords=[evil], contributors=[evil]), 0)
    assert not any(t == "img" for t, _ in tags(html))
    assert html.count("&lt;img src=x") == 4


def test_verification_badges():
    assert "✓ verified" in render.card_html(cite(verified=True), None, 0)
    assert "not verified" in render.card_html(cite(verified=False), None, 0)
    assert "quoted" in render.card_html(cite(verified=None), None, 0)


def test_panel_opens_only_the_selected_card():
    cards = [render.CardData(cite(1), entry()), render.CardData(cite(2), None)]
    html = render.panel_html(0, "Who?", cards, selected=2)
    details = [a for t, a in tags(html) if t == "details"]
    assert ["open" in d for d in details] == [False, True]
    assert 'data-selected="kbqa-card-0-2"' in html


def test_entry_view_locates_the_passage_and_its_sentence():
    full = "Heading line\n" + PASSAGE + "\nMore of the entry."
    html = render.entry_html(entry(), full, cite(), turn=1)
    assert '<span class="kbqa-cited-passage">' in html and "<mark" in html
    assert "Heading line" in html and "More of the entry." in html
    back = next(a for t, a in tags(html) if t == "button")
    assert "kbqa-back" in back["class"]


def test_upload_report_escapes_file_names():
    from kbqa_ui.uploads import FileResult, UploadReport

    report = UploadReport([FileResult("<b>x.txt", False, "bad <i>")], "0 files")
    html = render.upload_report_html(report)
    assert "&lt;b&gt;x.txt" in html and "bad &lt;i&gt;" in html and "✗" in html


# ------------------------------------------------------------------ Markdown export


def test_markdown_export_has_every_answer_and_its_passages():
    turns = [
        Turn("Who are the partners?", answer(), AskOptions(), 0.1),
        Turn("And <b>then</b>?", answer(XSS + " [1]", status="abstained", citations=[]), AskOptions(), 0.1),
    ]
    md = conversation_markdown(turns, now=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    assert md.startswith("# kbqa conversation, 2026-01-02 03:04 UTC")
    assert "## 1. Who are the partners?" in md and "## 2. And \\<b\\>then\\</b\\>?" in md
    assert "DCMS works with Sheffield and Hull. [1]" in md  # markers stay readable
    assert "[1] **Enabling Social Action Programme**" in md
    assert "**DCMS works with the universities of Sheffield and Hull on it.**" in md  # the cited sentence
    assert "*Not answered from the knowledge base.*" in md
    assert "<script>" not in md and "\\<script\\>" in md


def test_markdown_escape_leaves_plain_words_alone():
    assert md_escape("Sheffield and Hull, 2018") == "Sheffield and Hull, 2018"
    assert md_escape("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"  # no link can form

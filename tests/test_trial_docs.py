"""The trial documents rendered into real PDF, DOCX, HTML, Markdown and text files and ingested by the real
pipeline keep their text: every evidence span that trial.jsonl quotes from them is in a chunk of the
document it comes from. This is what proves the loaders (tables, unwrapping, hyphen repair) lose nothing.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from kbqa.index.store import Store
from kbqa.ingestion.pipeline import ingest
from tests.support import EVALS, trial_renderer

TRIAL_DOCS = EVALS / "trial_docs"
RENDERED = {  # rendered name → its file in trial_docs/
    "marlow_fen.md": "marlow_fen.md",
    "tresco_choir.html": "tresco_choir.html",
    "ferry_lane.txt": "ferry_lane.txt",
    "harbour_report.pdf": "harbour_report.pdf.txt",
    "allotments.docx": "allotments.docx.json",
}


def norm(text: str) -> str:
    return " ".join(text.split())


def _source_lines(name: str) -> list[str]:
    """The lines of a trial document as its evidence spans were copied from (see evals/sets/README.md)."""
    path = TRIAL_DOCS / RENDERED[name]
    if name.endswith(".docx"):
        spec = json.loads(path.read_text(encoding="utf-8"))
        lines = []
        for block in spec["blocks"]:
            rows = block.get("rows") or [[block["text"]]]
            lines.extend(" | ".join(row) for row in rows)
        return lines
    text = path.read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", text)).splitlines() if name.endswith(".html") else text.splitlines()


def _trial_items() -> list[dict]:
    lines = (EVALS / "sets" / "trial.jsonl").read_text(encoding="utf-8").splitlines()
    return [item for item in map(json.loads, lines) if set(item["sources"]) & set(RENDERED)]


def _trial_spans() -> list[tuple[str, str, str]]:
    """(item id, trial document, span) for every evidence span trial.jsonl takes from a trial document."""
    out = []
    for item in _trial_items():
        for span in item["evidence"]:
            for name in set(item["sources"]) & set(RENDERED):
                if any(span in source_line for source_line in _source_lines(name)):
                    out.append((item["id"], name, span))
    return out


@pytest.fixture(scope="module")
def rendered_index(tmp_path_factory, model_cache):
    """The five trial documents rendered, then ingested into a fresh index: (folder, settings, report)."""
    from tests.support import make_settings

    root = tmp_path_factory.mktemp("trial")
    written = trial_renderer().render(TRIAL_DOCS, root / "docs")
    assert sorted(p.name for p in written) == sorted(RENDERED)
    settings = make_settings(root / "data", root / "docs", model_cache)
    return root / "docs", settings, ingest(settings)


@pytest.fixture(scope="module")
def chunks_by_source(rendered_index) -> dict[str, list[str]]:
    _, settings, _ = rendered_index
    got = Store(settings).collection.get(include=["documents", "metadatas"])
    out: dict[str, list[str]] = {}
    for text, meta in zip(got["documents"], got["metadatas"]):
        out.setdefault(meta["source"], []).append(text)
    return out


def test_every_trial_document_is_indexed_without_warnings(rendered_index, chunks_by_source):
    _, _, report = rendered_index
    assert report.files_indexed == len(RENDERED) and not report.warnings, report.summary()
    assert set(chunks_by_source) == set(RENDERED)


def test_rendered_pdf_has_hyphenated_line_breaks_and_docx_a_table(rendered_index):
    """The renderer really exercises the loaders: words broken at line ends, facts only in a table."""
    import docx

    folder, _, _ = rendered_index
    raw = _raw_pdf_text(folder / "harbour_report.pdf")
    assert len(re.findall(r"[a-z]-\n[a-z]", raw)) >= 2, raw
    tables = docx.Document(str(folder / "allotments.docx")).tables
    assert [c.text for c in tables[0].rows[2].cells] == ["Eastfield", "40", "2019"]


def test_every_evidence_span_from_a_trial_document_is_in_one_of_its_chunks(chunks_by_source):
    spans = _trial_spans()
    # every item citing a trial document has its evidence checked here, and every document is checked
    assert {item_id for item_id, _, _ in spans} == {item["id"] for item in _trial_items()}
    assert {name for _, name, _ in spans} == set(RENDERED)
    missing = []
    for item_id, name, span in spans:
        chunks = chunks_by_source[name]
        if " | " in span:  # a table row (cells joined with " | "): its cells in order, within one line of a chunk
            cells = [re.escape(norm(cell)) for cell in span.split(" | ")]
            found = any(re.search(r"\b" + r"\b[^\n]*\b".join(cells) + r"\b", chunk) for chunk in chunks)
        else:
            found = any(norm(span) in norm(chunk) for chunk in chunks)
        if not found:
            missing.append((item_id, name, span))
    assert not missing, missing


def test_pdf_words_broken_at_line_ends_are_whole_again(chunks_by_source):
    text = norm(" ".join(chunks_by_source["harbour_report.pdf"]))
    for word in ("Neighbourhood Forum is a group", "collective workshops", "consensus", "designed", "business"):
        assert word in text
    assert "\u00ad" not in text and not re.search(r"[a-z]- [a-z]", text)


def test_the_pdf_renderer_never_prints_a_doubled_hyphen_where_a_hyphenated_word_breaks(tmp_path):
    """Found by the index state machine's long run: pyphen put a soft hyphen right after the hard one of
    'co-production', which printed 'co--' at a line break, and the sentence was lost to the checks."""
    from kbqa.ingestion.pipeline import read_text

    sentence = (
        "However, the empirical evidence from our recent survey of citizens in five EU countries suggests "
        "that the practice of co-production is dominated by individualised co-production."
    )
    words = ["the", "council", "and", "residents", "worked", "together", "on", "a", "plan", "for", "the", "park"]
    broken = 0
    for n in range(0, 60, 3):  # lead-ins of many lengths move the line breaks across the sentence
        src = tmp_path / f"p{n}.txt"
        src.write_text("A title line\n" + " ".join(words[i % len(words)] for i in range(n)) + ". " + sentence)
        trial_renderer().render_pdf(src, tmp_path / f"p{n}.pdf")
        text = read_text(tmp_path / f"p{n}.pdf")
        assert "co--" not in text and norm(sentence) in norm(text), text
        broken += bool(re.search(r"co-\w*-?\n", _raw_pdf_text(tmp_path / f"p{n}.pdf")))  # a break inside it
    assert broken, "no rendering broke a line inside co-production: the test would prove nothing"


def _raw_pdf_text(path) -> str:
    import pypdf

    return "".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)

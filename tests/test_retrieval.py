"""Hybrid retrieval and metadata filters on the real corpus (the shared session index)."""

from __future__ import annotations

import pytest

from kbqa.errors import UsageError
from kbqa.ingestion.pipeline import ingest
from kbqa.retrieve import Filters
from tests.support import EVALS, SRC_000, SRC_001, load_jsonl

MODES = ("hybrid", "dense", "bm25")
ALL = 50  # the most a question may ask for: more than any filter here lets through


def entry_ids(hits) -> set[str]:
    return {h.chunk.metadata["entry_id"] for h in hits}


def expected_entries(kb, keep) -> set[str]:
    """Entry ids (from the manifest) that satisfy `keep` and have chunks."""
    return {e.entry_id for e in kb.store.manifest.entries() if e.chunk_ids and keep(e)}


# ---------------------------------------------------------------- the evaluation questions


def test_gold_source_is_in_the_top_5_for_answerable_questions(corpus_kb):
    items = [i for i in load_jsonl(EVALS / "sets" / "dev.jsonl") if not i["abstain"]]
    assert len(items) > 50
    misses = []
    for item in items:
        # a follow-up is retrieved together with the turn before it, as evals/ does
        query = " ".join([*item.get("history", [])[-1:], item["question"]])
        hits = corpus_kb.retrieve(query, k=5, mode="hybrid")
        assert len(hits) == 5
        if not set(item["sources"]) & {h.chunk.source for h in hits}:
            misses.append((item["id"], item["question"], [h.chunk.source for h in hits]))
    for miss in misses:
        print("MISS", *miss)
    assert len(misses) <= 2, misses


def test_hits_are_ranked_and_carry_their_scores(corpus_kb):
    hits = corpus_kb.retrieve("participatory budgeting in Scotland", k=5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].chunk.metadata["entry_id"] == f"{SRC_001}#4"
    assert all(h.dense is not None and -1.0 <= h.dense <= 1.0 for h in hits)
    assert len({h.chunk.id for h in hits}) == len(hits)


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize("mode", MODES)
def test_source_filter(corpus_kb, mode):
    hits = corpus_kb.retrieve("social action commissioning", k=ALL, filters=[f"source={SRC_001}"], mode=mode)
    assert hits
    assert {h.chunk.source for h in hits} == {SRC_001}


@pytest.mark.parametrize("mode", MODES)
def test_keyword_filter_returns_only_that_entry(corpus_kb, mode):
    hits = corpus_kb.retrieve("public money democracy", k=ALL, filters=["keyword=participatory budgeting"], mode=mode)
    assert entry_ids(hits) == {f"{SRC_001}#4"}


def test_keyword_filter_is_case_insensitive_and_exact(corpus_kb):
    hits = corpus_kb.retrieve("public money", k=ALL, filters=["keyword=Participatory Budgeting"])
    assert entry_ids(hits) == {f"{SRC_001}#4"}
    assert corpus_kb.retrieve("public money", k=ALL, filters=["keyword=participatory"]) == []


@pytest.mark.parametrize("mode", MODES)
def test_contributor_filter_returns_her_two_entries(corpus_kb, mode):
    hits = corpus_kb.retrieve("community university research", k=ALL, filters=["contributor=Angie Hart"], mode=mode)
    expected = {f"{SRC_000}#2", f"{SRC_001}#2"}
    if mode == "bm25":  # keyword search only returns chunks that share a word with the question
        assert entry_ids(hits) and entry_ids(hits) <= expected
    else:
        assert entry_ids(hits) == expected


def test_contributor_filter_matches_an_affiliation(corpus_kb):
    hits = corpus_kb.retrieve("citizens", k=ALL, filters=["contributor=What Works Scotland"], mode="dense")
    assert entry_ids(hits) == {f"{SRC_001}#3", f"{SRC_001}#4"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("year, lo, hi", [("2019", 2019, 2019), ("2013-2014", 2013, 2014), ("2010..2012", 2010, 2012)])
def test_year_filter_returns_entries_that_overlap_the_range(corpus_kb, mode, year, lo, hi):
    def overlaps(e) -> bool:
        # an entry without an end year is still running ("(ongoing)")
        return e.year_start is not None and e.year_start <= hi and (e.year_end is None or e.year_end >= lo)

    expected = expected_entries(corpus_kb, overlaps)
    hits = corpus_kb.retrieve("co-production project research programme", k=ALL, filters=[f"year={year}"], mode=mode)
    for h in hits:
        meta = h.chunk.metadata
        assert meta["year_start"] <= hi and meta["year_end"] >= lo, (year, h.chunk.title)
    if mode == "bm25":
        assert entry_ids(hits) <= expected
    else:
        assert entry_ids(hits) == expected
    if year == "2019":
        # 000#1, the guidance "(ongoing)", is dated by its text: from November 2015, still running
        assert expected == {f"{SRC_000}#0", f"{SRC_000}#1", f"{SRC_001}#0", f"{SRC_001}#1", f"{SRC_001}#5"}
    if year == "2013-2014":
        assert expected == {f"{SRC_000}#2", f"{SRC_001}#0", f"{SRC_001}#2"}


def test_filters_combine(corpus_kb):
    hits = corpus_kb.retrieve("social action", k=ALL, filters=["keyword=social action", "year=2019"])
    # both social-action entries: the programme (2018-2020) and the guidance ("(ongoing)", from 2015)
    assert entry_ids(hits) == {f"{SRC_000}#0", f"{SRC_000}#1"}
    assert corpus_kb.retrieve("social action", k=ALL, filters=["keyword=social action", f"source={SRC_001}"]) == []


def test_filtered_ask_answers_from_the_filtered_entries(corpus_kb):
    answer = corpus_kb.ask("What did the project study?", filters=["contributor=Nick Bland"])
    assert not answer.abstained
    assert {c.title for c in answer.citations} == {
        "Local solutions to local problems: innovation in public participation"
    }


def test_follow_up_finds_its_answer_beyond_the_entry_the_last_answer_came_from(corpus_kb):
    # Two entries are called "Imagine"; the first answer is the overview of the one that ran 2013-2017, and
    # the follow-up must find the strands' coordinators in that entry's later passages.
    chat = corpus_kb.conversation()
    chat.ask("Tell me about the Imagine project that ran from 2013 to 2017.")
    assert chat.turns[-1].topic.startswith("Imagine: the social, historical, cultural and democratic context")
    answer = chat.ask("Who coordinated its cultural strand?")
    assert "Kate Pahl" in answer.answer
    assert any("Cultural: co-ordinated by Professor Kate Pahl" in c.text for c in answer.citations)


@pytest.mark.parametrize(
    "bad",
    [
        "year=20x",
        "year=19",
        "year=2018-19",
        "year=",
        "colour=red",
        "keyword",
        "keyword=",
        "=participatory budgeting",
        "contributor",
    ],
)
def test_bad_filter_strings_raise_usage_error(corpus_kb, bad):
    with pytest.raises(UsageError) as info:
        Filters.parse([bad])
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError):
        corpus_kb.retrieve("co-production", filters=[bad])
    with pytest.raises(UsageError):
        corpus_kb.ask("What is co-production?", filters=[bad])


def test_open_ended_entry_matches_later_years(settings_factory, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kb.txt").write_text(
        "Research – test entries\n\n"
        "Community energy cooperatives (2015 – present)\n\nResidents co-own solar panels on school roofs.\n\n"
        "Keywords: energy, cooperatives\n\nContributed by: Ada Lovelace – University of Somewhere\n\n"
        "Library devolution study (2010-2012)\n\nParish councils took over local libraries.\n\n"
        "Keywords: libraries\n\nContributed by: Alan Turing – University of Elsewhere\n",
        encoding="utf-8",
    )
    settings = settings_factory()
    ingest(settings)
    from kbqa.api import KnowledgeBase

    hits = KnowledgeBase(settings).retrieve("solar panels", k=10, filters=["year=2019"])
    assert {h.chunk.title for h in hits} == {"Community energy cooperatives"}


@pytest.mark.slow
def test_cli_reports_a_bad_filter_in_one_line_with_status_2(corpus_kb, run_cli):
    proc = run_cli(
        "ask", "--json", "--where", "year=soon", "What is co-production?", data_dir=corpus_kb.settings.data_dir
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --where year='soon'"), proc.stderr

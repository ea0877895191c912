"""Metrics on hand-computed toy cases: a known ranking gives a known MRR and nDCG; citation recall and
precision follow ALCE (uncited sentences and unsupporting or unneeded citations lower them)."""

from __future__ import annotations

import math

import pytest

from kbqa.eval import citations
from kbqa.eval.citations import Passage, SupportCheck
from kbqa.eval.dataset import Item
from kbqa.eval.metrics import Record, Retrieved, aggregate, item_values, percentile


def item(**changes: object) -> Item:
    base = {
        "id": "t1",
        "question": "Which universities are partners?",
        "history": [],
        "category": "single_fact",
        "sources": ["a.txt"],
        "evidence": ["Sheffield and Hull", "since 2018"],
        "reference": "Sheffield and Hull.",
        "must": ["Sheffield", "Hull"],
        "abstain": False,
    }
    return Item(**{**base, **changes})


def record(it: Item | None = None, **changes: object) -> Record:
    base = {"set": "toy", "item": it or item(), "answer": {"answer": "", "citations": [], "abstained": False}, "seconds": 0.1}  # fmt: skip
    return Record(**{**base, **changes})


def passage(spans: list[int], source: str = "a.txt") -> Retrieved:
    return Retrieved(source=source, chunk_id="c", spans=spans)


# ------------------------------------------------------------------ retrieval


def test_known_ranking_gives_known_mrr_ndcg_hits_and_recall():
    # relevant passages at ranks 2 and 4 (holding spans 0 and 1); the index holds 3 relevant passages
    ranking = [passage([]), passage([0]), passage([], "b.txt"), passage([1]), *[passage([]) for _ in range(6)]]
    r = record(retrieval={"hybrid": ranking}, relevant_in_index=3)
    v = item_values(r)
    assert v["mrr"] == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert v["ndcg@10"] == pytest.approx(dcg / idcg, abs=1e-4)  # 0.4982
    assert (v["hit@1"], v["hit@5"], v["recall@5"], v["source_hit@5"]) == (0.0, 1.0, 1.0, 1.0)
    assert v["dense_hit@5"] is None  # the mode was not run


def test_evidence_outside_the_top_10_scores_zero_and_recall_counts_spans():
    none = record(retrieval={"hybrid": [passage([]) for _ in range(10)]}, relevant_in_index=2)
    assert (item_values(none)["mrr"], item_values(none)["ndcg@10"], item_values(none)["hit@5"]) == (0.0, 0.0, 0.0)
    half = record(retrieval={"hybrid": [passage([1]), *[passage([]) for _ in range(9)]]}, relevant_in_index=1)
    assert item_values(half)["recall@5"] == 0.5  # one of the two gold spans
    assert item_values(half)["ndcg@10"] == 1.0  # the only relevant passage, first


def test_retrieval_metrics_do_not_apply_to_items_that_should_be_declined():
    oos = item(category="out_of_scope", sources=[], evidence=[], must=[], abstain=True)
    v = item_values(record(oos, retrieval={"hybrid": [passage([])]}))
    assert v["hit@5"] is None and v["mrr"] is None and v["answer_accuracy"] is None


# ------------------------------------------------------------------ answers and abstention


def cited(answer: str, texts: list[str], abstained: bool = False) -> dict:
    return {
        "answer": answer,
        "abstained": abstained,
        "citations": [{"n": i, "title": "T", "source": "a.txt", "text": t} for i, t in enumerate(texts, 1)],
    }


def test_answer_accuracy_needs_every_key_and_a_cited_passage_holding_gold_evidence():
    good = record(answer=cited("Sheffield and Hull [1]", ["… Sheffield and Hull …"]))
    keys_only = record(answer=cited("Sheffield and Hull [1]", ["an unrelated passage"]))
    one_key = record(answer=cited("Sheffield [1]", ["Sheffield and Hull"]))
    declined = record(answer=cited("The knowledge base does not say.", [], abstained=True))
    assert item_values(good)["answer_accuracy"] == 1.0
    assert item_values(keys_only)["answer_accuracy"] == 0.0 and item_values(keys_only)["keys_in_answer"] == 1.0
    assert item_values(one_key)["answer_accuracy"] == 0.0 and item_values(one_key)["evidence_cited"] == 1.0
    assert item_values(declined)["answer_accuracy"] == 0.0 and item_values(declined)["false_abstention"] == 1.0


def test_a_cited_passages_page_title_counts_as_cited_evidence():
    """A page's title is a line of its source shown above the passage: evidence that is a title is cited."""
    titled = item(
        question="What is the page called?", evidence=["From engagement to co-production"], must=["engagement"]
    )
    answer = {"answer": "It is “From engagement to co-production” [1]", "abstained": False, "citations": [
        {"n": 1, "title": "From engagement to co-production", "source": "a.txt", "text": "a listed record"}]}  # fmt: skip
    assert item_values(record(titled, answer=answer))["evidence_cited"] == 1.0
    answer["citations"][0]["title"] = "Another page"
    assert item_values(record(titled, answer=answer))["evidence_cited"] == 0.0


def test_abstention_precision_and_recall_over_a_toy_run():
    oos = item(id="o", category="out_of_scope", sources=[], evidence=[], must=[], abstain=True)
    declined = {"answer": "no", "citations": [], "abstained": True}
    answered = cited("Sheffield and Hull [1]", ["Sheffield and Hull"])
    rows = [
        record(oos, answer=declined),  # right to decline
        record(oos, answer=answered),  # should have declined
        record(item(id="a"), answer=declined),  # declined wrongly
        record(item(id="b"), answer=answered),
    ]
    figures = aggregate(rows)
    assert figures["abstention_recall"] == 0.5  # 1 of 2 out-of-scope declined
    assert figures["abstention_precision"] == 0.5  # 1 of 2 declines was right
    assert figures["false_abstention"] == 0.5
    assert figures["correct"] == 0.5


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile([], 0.5) is None


# ------------------------------------------------------------------ citations (ALCE)

A = "The universities of Sheffield and Hull are partners in Phase 2."
B = "The programme began in March 2018."
P_A = Passage(1, "Enabling Social Action", f"Intro. {A} More text.")
P_B = Passage(2, "Enabling Social Action", f"{B} Other text.")
P_X = Passage(3, "Unrelated", "Participatory budgeting in Scotland grew after 2014.")
QUOTES = SupportCheck(None)  # quote containment only: deterministic toy judgments


def alce(answer: str, passages: list[Passage]) -> tuple[float | None, float | None]:
    checked = citations.check(answer, passages, QUOTES)
    return citations.recall(checked), citations.precision(checked)


def test_every_sentence_supported_by_its_own_citation():
    assert alce(f"{A} [1] {B} [2]", [P_A, P_B]) == (1.0, 1.0)


def test_an_uncited_sentence_lowers_recall():
    assert alce(f"{A} [1] {B}", [P_A, P_B]) == (0.5, 1.0)


def test_an_unsupporting_citation_lowers_recall_and_precision():
    assert alce(f"{A} [1] {B} [3]", [P_A, P_B, P_X]) == (0.5, 0.5)
    assert alce(f"{A} [9]", [P_A]) == (0.0, 0.0)  # a marker pointing at no passage


def test_an_unneeded_citation_lowers_precision_only():
    # [3] does not support A alone, and [1] supports it without [3]
    assert alce(f"{A} [1][3]", [P_A, P_B, P_X]) == (1.0, 0.5)


def test_two_citations_that_each_support_the_sentence_are_both_needed():
    twin = Passage(2, "Copy", A)
    assert alce(f"{A} [1][2]", [P_A, twin]) == (1.0, 1.0)


def test_list_answers_are_checked_item_by_item_with_their_lead_in():
    answer = "2 entries name Sheffield among the contributors:\n• Alpha project (2018) [1]\n• Beta project [2]"
    parts = citations.statements(answer)
    assert [c for _, c in parts] == [[1], [2]]
    assert parts[0][0] == "2 entries name Sheffield among the contributors: Alpha project (2018)"


def test_kbqa_support_check_accepts_a_paraphrase_that_quoting_would_miss(model_cache):
    from kbqa.answer.verify import Verifier
    from kbqa.index.embed import Embedder

    check = SupportCheck(Verifier(Embedder(model_cache)))
    said = "Sheffield and Hull universities are partners in Phase 2 [1]."
    assert alce(said, [P_A]) == (0.0, 0.0)  # not a quote
    checked = citations.check(said, [P_A], check)
    assert checked[0].how == "verifier" and citations.recall(checked) == 1.0
    wrong = citations.check("Glasgow and Leeds universities are partners in Phase 2 [1].", [P_A], check)
    assert citations.recall(wrong) == 0.0  # names the passage never mentions


def test_a_table_row_span_matches_its_cells_in_order_on_one_line_however_they_are_joined():
    from kbqa.eval.dataset import span_in

    assert span_in("Eastfield | 40 | 2019", "Sites.\nSite: Eastfield; Plots: 40; Opened: 2019.\nMore.")
    assert span_in("Eastfield | 40 | 2019", "Eastfield | 40 | 2019")
    assert not span_in("Eastfield | 40 | 2019", "Site: Eastfield; Plots: 40\nOpened: 2019")  # not one line
    assert not span_in("Eastfield | 40 | 2019", "Eastfield 2019 40")  # not in order
    assert not span_in("Eastfield | 40 | 2019", "Eastfield 140 2019")  # 40 is not a cell here

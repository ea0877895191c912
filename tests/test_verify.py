"""Citation markers: parsing, renumbering while streaming, and support checks."""

from __future__ import annotations

import pytest

from kbqa.answer.verify import Renumberer, Verifier, claims, expand_marker
from kbqa.schema import Chunk


@pytest.mark.parametrize(("body", "numbers"), [("1", [1]), ("1, 3", [1, 3]), ("2-4", [2, 3, 4]), ("1 and 2", [1, 2])])
def test_expand_marker(body, numbers):
    assert expand_marker(body) == numbers


def test_renumberer_handles_markers_split_across_stream_deltas():
    r = Renumberer(passages=3)
    out = "".join(r.feed(d) for d in ["Hull is a partner [", "3", "]. DCMS leads [1", "][7]."]) + r.flush()
    assert out == "Hull is a partner [1]. DCMS leads [2]."
    assert r.mapping == {3: 1, 1: 2}


def test_renumberer_passes_plain_brackets_through():
    r = Renumberer(passages=2)
    assert r.feed("a [sic] b") + r.flush() == "a [sic] b"


def test_claims_attach_markers_after_the_full_stop_to_their_sentence():
    got = claims("Sheffield is a partner. [1] Hull is too [2]. No source here.")
    assert [(c.text, c.cites) for c in got] == [
        ("Sheffield is a partner.", [1]),
        ("Hull is too.", [2]),
        ("No source here.", []),
    ]


@pytest.fixture(scope="module")
def verifier(corpus_kb) -> Verifier:
    return Verifier(corpus_kb.retriever.embedder)


PASSAGE = Chunk(
    "c1",
    "The Department for Digital, Culture, Media and Sport (DCMS) is working in partnership with the universities "
    "of Sheffield and Hull on Phase 2 of the Enabling Social Action programme. The programme runs from 2018 to 2020.",
    "000.txt",
    "Enabling Social Action Programme",
)


@pytest.mark.parametrize(
    ("claim", "ok"),
    [
        ("The universities of Sheffield and Hull are partners in Phase 2.", True),
        ("DCMS works with Sheffield and Hull universities.", True),
        ("The programme runs from 2018 to 2020.", True),
        ("The programme runs from 2016 to 2020.", False),  # a number the passage does not state
        ("The programme was funded by NASA.", False),
        ("Participatory budgeting began in Brazil.", False),
    ],
)
def test_support(verifier, claim, ok):
    assert verifier.support(claim, PASSAGE)[0] is ok


def test_citation_is_verified_only_if_every_claim_citing_it_is_supported(verifier):
    answer = "Sheffield and Hull are partners in Phase 2 [1]. It was funded by NASA [1]."
    [citation] = verifier.citations(answer, [PASSAGE], {1: 1}, {"c1": 0.5})
    assert citation.verified is False
    assert citation.score == 0.5


def test_citation_highlights_the_passage_sentence_each_claim_rests_on(verifier):
    answer = "Sheffield and Hull are partners in Phase 2 [1]. It runs from 2018 to 2020 [1]."
    [citation] = verifier.citations(answer, [PASSAGE], {1: 1}, {})
    quoted = [PASSAGE.text[s:e] for s, e in citation.highlights]
    assert quoted == [
        "The Department for Digital, Culture, Media and Sport (DCMS) is working in partnership with the universities "
        "of Sheffield and Hull on Phase 2 of the Enabling Social Action programme.",
        "The programme runs from 2018 to 2020.",
    ]


@pytest.mark.parametrize(
    ("claim", "ok"),
    [
        ("The historical strand looked at Tyneside and Coventry.", True),
        ("The resilience work with young people took place in Tyneside and Coventry.", False),  # joins two strands
        ("The resilience work took place in Greece and Malaysia.", True),
    ],
)
def test_support_nearby_keeps_a_claim_within_a_few_sentences(verifier, claim, ok):
    from kbqa.schema import Chunk

    passage = Chunk(
        "c",
        "Social: co-ordinated by Angie Hart. This focused on resilience building with young people in the UK, "
        "Greece, Malaysia and Germany. Historical: co-ordinated by Sarah Banks. Other work followed in 2015 and "
        "then in 2016. This focused on community development practices in Tyneside and Coventry.",
        "s.txt",
        "Imagine",
    )
    assert verifier.support_nearby(claim, passage) is ok

"""Questions in several parts answered part by part, when the parts need different answerers.

"When was the What Works Scotland briefing published, and which 2015 publication is listed alongside it?"
asks a publication record for one part and the same entry's records for the other. Each part is answered
by the answerer that takes it (a later part as a follow-up of the one before: "it" is what that part's
answer was about), and the answers are joined, their citations renumbered; a part nothing answers is named
rather than the whole question declined. Parts that all go to the extractive answerer are left to it (it
scores each part against the same passages).
"""

from __future__ import annotations

import re
from dataclasses import replace

from kbqa.answer.extractive import ABSTAIN_TEXT, not_answered
from kbqa.schema import Answer, Citation


def merge(question: str, answered: list[tuple[str, Answer]]) -> Answer:
    """One answer from the answers to each part: texts joined, citations renumbered (a passage cited by two
    parts keeps one number), unanswered parts named."""
    citations: list[Citation] = []
    pieces: list[str] = []
    missing: list[str] = []
    for part, answer in answered:
        if answer.abstained or not answer.citations:
            missing.append(part)
            continue
        numbers: dict[int, int] = {}
        for c in answer.citations:
            same = next((x for x in citations if (x.source, x.text) == (c.source, c.text)), None)
            if same is None:
                same = replace(c, n=len(citations) + 1, highlights=list(c.highlights))
                citations.append(same)
            else:
                same.highlights += [h for h in c.highlights if h not in same.highlights]
            numbers[c.n] = same.n
        pieces.append(_renumber(answer.answer, numbers))
    if not pieces:
        return Answer(question, ABSTAIN_TEXT, [], status="abstained", answerer=answered[0][1].answerer)
    if missing:
        pieces.append(not_answered(missing))
    first = next(a for _, a in answered if not a.abstained)
    notices = "; ".join(dict.fromkeys(a.notice for _, a in answered if a.notice)) or None
    return Answer(
        question,
        "\n".join(pieces),
        citations,
        answerer=first.answerer,
        notice=notices,
        confidence=min(a.confidence for _, a in answered if not a.abstained),
    )


def _renumber(text: str, numbers: dict[int, int]) -> str:
    return re.sub(r"\[(\d+)\]", lambda m: f"[{numbers.get(int(m[1]), int(m[1]))}]", text)

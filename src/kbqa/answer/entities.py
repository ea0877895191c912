"""Which catalogue entries a question names: "the Imagine project", "Co-production for Sustainability",
"the Local solutions to local problems trial". Used by the answerers that work from the catalogue
(listing a named entry's contributors or publications, overviews, comparisons) and by the extractive
answerer's check that an answer about a named entry comes from that entry.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kbqa.schema import Entry
from kbqa.text import tokenize

MIN_COVERAGE = 0.6  # IDF-weighted share of a title's (or of its head's) words the question must contain …
MIN_RARE_MASS = 8.5  # … or this much IDF mass of its words (about three words found in one title each)
COMMON_TITLE_WORDS = 2  # a word in more entry titles than this does not name an entry by itself
_CHAPTER = re.compile(r"\bchapters?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """An entry the question names, and how completely (share of its title's words in the question)."""

    entry: Entry
    coverage: float
    matched: float = 0.0  # IDF mass of the title's words found in the question


def head(title: str) -> str:
    """The name part of a title: 'Imagine: the social, historical …' → 'Imagine'."""
    return re.split(r"\s*[:(–—]\s*|\.\s", title, maxsplit=1)[0].strip() or title


def mentioned_entries(question: str, entries: list[Entry]) -> list[Mention]:
    """Entries whose title (or the name before its colon) the question contains, best first.

    A title counts when most of its words are in the question and one of them is not common to many
    titles ("Social Action" alone does not name one of the three social-action entries, "guidance" does).
    """
    q = set(tokenize([question])[0])
    titles = {e.entry_id: set(tokenize([e.title])[0]) for e in entries}
    heads = {e.entry_id: set(tokenize([head(e.title)])[0]) for e in entries}
    df: dict[str, int] = {}
    for words in titles.values():
        for w in words:
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(1 + len(entries) / n) for w, n in df.items()}
    found = []
    for e in entries:
        full, name = titles[e.entry_id], heads[e.entry_id]
        coverage = max(_share(full, q, idf), _share(name, q, idf))
        distinctive = {w for w in (full | name) & q if df.get(w, 0) <= COMMON_TITLE_WORDS}
        rare_mass = sum(idf.get(w, 0.0) for w in distinctive)
        if distinctive and (coverage >= MIN_COVERAGE or rare_mass >= MIN_RARE_MASS):
            matched = sum(idf.get(w, 0.0) for w in (full | name) & q)
            found.append(Mention(e, coverage, matched))
    # the most completely named first; among those, the one that accounts for more of the question's words
    # ("Enabling Social Action Programme" over "Enabling social action" for "… Social Action Programme")
    return sorted(found, key=lambda m: (round(m.coverage, 1), m.matched), reverse=True)


def best_mentions(question: str, entries: list[Entry]) -> list[Entry]:
    """The entries named most completely (all of them when several tie, e.g. two 'Imagine' entries)."""
    found = mentioned_entries(question, entries)
    if _CHAPTER.search(question):  # "Bovaird's chapter on e-government …": a chapter, not the book it is in
        found = [m for m in found if m.entry.parent is not None] or found
    if not found:
        return []
    top = found[0]
    return [
        m.entry for m in found if round(m.coverage, 1) == round(top.coverage, 1) and m.matched >= top.matched - 0.01
    ]


def _share(words: set[str], question: set[str], idf: dict[str, float]) -> float:
    total = sum(idf.get(w, 1.0) for w in words)
    return sum(idf.get(w, 1.0) for w in words & question) / total if total else 0.0

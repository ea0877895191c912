"""Misspelt question words put right from the knowledge base's own words ("advisery" → "advisory").

Users type fast ("nef advisery group", "which entires are about Scotland?"); a misspelt word matches
nothing, so the passage it names is missed and the question may be declined. A word is corrected only when
neither the index nor a list of common English words (the embedding model's whole-word vocabulary) knows
it, and one edit (a letter dropped, added or changed, or two swapped) turns it into a word the index holds,
or a word the answerers understand ("entries"): the most frequent such word wins. Capitalised words (names)
and short words are left alone, so "Pahl" or "NEF" are never "corrected".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from kbqa.text import tokenize

MIN_LENGTH = 5  # shorter words have too many neighbours one edit away
# Words the answerers understand that a corpus need not contain (the catalogue's nouns): known as if indexed.
QUESTION_WORDS = frozenset(
    [
        "entry",
        "entries",
        "project",
        "projects",
        "contributor",
        "contributors",
        "keyword",
        "keywords",
        "publication",
        "publications",
        "knowledge",
        "catalogue",
        "contributed",
    ]
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# inflections and the base they come from ("consultations" → "consultation", "studies" → "study")
_ENDINGS = (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""))
_WORD = re.compile(r"(?<![\w'’-])[a-z]+(?![\w'’-])")


def common_words(vocab_file: Path) -> frozenset[str]:
    """The whole words (not word pieces) of a WordPiece vocabulary file: common English words."""
    words = vocab_file.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower())


def edits(word: str) -> set[str]:
    """Every string one edit from `word` (Norvig's edits1, with transpositions)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changes = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | changes | inserts) - {word}


class Speller:
    """Corrects the lower-case words of a question that nothing knows; `doc_freq` counts a stemmed term in the
    index (read at each call, so it follows the index as it changes)."""

    def __init__(self, doc_freq: Callable[[str], int], common: frozenset[str]) -> None:
        self.doc_freq = doc_freq
        self.common = common

    def correct(self, question: str) -> str:
        """The question with each misspelt word replaced (unchanged when none is)."""
        return _WORD.sub(lambda m: self.word(m.group()), question)

    def word(self, word: str) -> str:
        """The word, or the word one edit from it that the index (or the answerers) know, when nothing knows it."""
        if len(word) < MIN_LENGTH or word in self.common or word in QUESTION_WORDS or self._freqs([word])[0]:
            return word
        near = sorted(edits(word))
        # "entires": the catalogue's "entries" ("entire" + s is no word)
        asked = [c for c in near if c in QUESTION_WORDS]
        if asked:
            return asked[0]
        if self._is_common(word):
            return word
        scored = [(f, c) for f, c in zip(self._freqs(near), near) if f > 0]
        return max(scored)[1] if scored else word

    def _is_common(self, word: str) -> bool:
        """A common word or an inflection of one ("consultations", "coproduced"): the vocabulary lists few."""
        return any(word.endswith(end) and word[: len(word) - len(end)] + add in self.common for end, add in _ENDINGS)

    def _freqs(self, words: list[str]) -> list[int]:
        """How many passages hold each word (its rarest stem), the words stemmed in one call."""
        return [min((self.doc_freq(s) for s in stems), default=0) for stems in tokenize(words)]

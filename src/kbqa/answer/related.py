"""Words of the passages that mean what a question's word means, by the embedder's vectors of single words.

A paraphrase shares few words with its answer ("the strongest template for involving customers" for "the
most powerful model of user participation"); the synonym list cannot hold every such pair, and the
sentence's cosine alone is too blunt to pick it out of its passage. Embedding each word on its own with
the model the index already uses finds the corpus's own word for the question's ("strongest" ~
"powerful" 0.62, "customers" ~ "users" 0.50, "questioned" ~ "interviewed" 0.56, against 0.14–0.35 for
unrelated pairs), with no further model or download; the words' vectors are cached like sentences'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np

from kbqa.index.embed import BaseEmbedder
from kbqa.text import tokenize

RELATED_SIM = 0.5  # two words this close in meaning stand in for each other
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}")


def surface_words(texts: Iterable[str]) -> dict[str, str]:
    """Each stem of `texts` (as `tokenize` makes them) with the first word that gives it in lower case.

    Only words written in lower case somewhere: a name stands for itself ("Scotland" is no answer to a
    question about "Wales", though the two are as close as 0.68), so names are matched exactly or not at all.
    """
    words = list(dict.fromkeys(w.strip("'’-") for text in texts for w in _WORD.findall(text) if w.islower()))
    out: dict[str, str] = {}
    for word, stems in zip(words, tokenize(words)):
        if len(stems) == 1 and len(word) > 2:  # a stop word has no stem; "co-design" keeps its one
            out.setdefault(stems[0], word)
    return out


def related_stems(
    embedder: BaseEmbedder, asked: Mapping[str, str], offered: Mapping[str, str], exclude: Iterable[str] = ()
) -> dict[str, set[str]]:
    """For each asked stem, the offered stems whose words are at least `RELATED_SIM` close to its word.

    `asked`, `offered`: stem → word (`surface_words`); `exclude`: stems never offered (the asked ones
    themselves and their listed synonyms, which count for more already).
    """
    skip = set(exclude) | set(asked)
    pool = [s for s in offered if s not in skip]
    if not asked or not pool:
        return {}
    a = list(asked)
    vecs = embedder.embed_cached([asked[s] for s in a] + [offered[s] for s in pool])
    sims = vecs[: len(a)] @ vecs[len(a) :].T
    out: dict[str, set[str]] = {}
    for i, stem in enumerate(a):
        close = np.nonzero(sims[i] >= RELATED_SIM)[0]
        if close.size:
            out[stem] = {pool[j] for j in close}
    return out

"""Citation verification for LLM answers: every [n] must point to a passage that supports its sentence.

A sentence is supported by a passage when the numbers and names it states appear
there and its content words do too (stemmed), or it means nearly the same as one of
the passage's sentences (cosine of the packaged MiniLM embeddings) with a fair
share of its words present. A citation is `verified` only if every sentence
citing it is supported — an unverified citation is never shown as verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kbqa.index.embed import BaseEmbedder
from kbqa.schema import Chunk, Citation
from kbqa.text import sentence_spans, tokenize

MARKER = re.compile(r"\[(?:passage\s*|source\s*)?(\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*)\]", re.IGNORECASE)
LEXICAL_SUPPORT = 0.6
SEMANTIC_SUPPORT = 0.65
SEMANTIC_MIN_LEXICAL = 0.3


def expand_marker(body: str) -> list[int]:
    """'1, 3' → [1, 3]; '2-4' → [2, 3, 4]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", body):
        if m := re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part.strip()):
            lo, hi = int(m[1]), int(m[2])
            numbers += list(range(lo, min(hi, lo + 20) + 1))
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


class Renumberer:
    """Rewrites markers as text streams in: valid passage numbers are renumbered 1, 2, … in order of
    first appearance; markers pointing at no passage are dropped. A marker split across deltas is held back."""

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.mapping: dict[int, int] = {}
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < 24:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return self._rewrite(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._rewrite(text)

    def _rewrite(self, text: str) -> str:
        def swap(m: re.Match[str]) -> str:
            out = []
            for n in expand_marker(m.group(1)):
                if 1 <= n <= self.passages:
                    self.mapping.setdefault(n, len(self.mapping) + 1)
                    out.append(f"[{self.mapping[n]}]")
            return "".join(dict.fromkeys(out))

        return MARKER.sub(swap, text)


@dataclass
class Claim:
    """A sentence of the answer and the (renumbered) citations it carries."""

    text: str
    cites: list[int]


def claims(answer: str) -> list[Claim]:
    """Sentences with their markers; a marker right after a sentence's full stop belongs to that sentence."""
    moved = re.sub(r"([.!?])\s*((?:\[\d+\]\s*)+)", lambda m: f" {m.group(2).strip()}{m.group(1)} ", answer).strip()
    out = []
    for s, e in sentence_spans(moved):
        sentence = moved[s:e]
        cites = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
        text = re.sub(r"\s*\[\d+\]", "", sentence).strip()
        if text:
            out.append(Claim(text, list(dict.fromkeys(cites))))
    return out


def names(claim: str) -> list[str]:
    """Capitalised words inside a sentence (not its first word): names of people, places, organisations."""
    words = re.findall(r"(?<=[\s(\"'‘“])[A-Z][a-z][\w-]*", claim)
    return [w for w in words if w not in _COMMON_CAPITALS]


_COMMON_CAPITALS = {"The", "This", "These", "That", "It", "Its", "They", "In", "On", "For", "And", "A", "An", "I"}


class Verifier:
    """Checks claims against passages with lexical and embedding overlap."""

    def __init__(self, embedder: BaseEmbedder) -> None:
        self.embedder = embedder

    def support(self, claim: str, passage: Chunk) -> tuple[bool, float]:
        """Whether `passage` supports `claim`, and how strongly (0–1)."""
        numbers = re.findall(r"\d+(?:[.,]\d+)?", claim)
        if any(n not in passage.text for n in numbers):
            return False, 0.0
        where = f"{passage.title}\n{passage.text}".lower()
        if any(name.lower()[:4] not in where for name in names(claim)):
            return False, 0.0  # a name the passage never mentions (by its first letters: Scottish ~ Scotland)
        claim_tokens = set(tokenize([claim])[0])
        if not claim_tokens:
            return False, 0.0
        passage_tokens = set(tokenize([passage.embed_text])[0])
        lexical = len(claim_tokens & passage_tokens) / len(claim_tokens)
        if lexical >= LEXICAL_SUPPORT:
            return True, lexical
        if lexical < SEMANTIC_MIN_LEXICAL:
            return False, lexical
        sentences = [passage.text[s:e] for s, e in sentence_spans(passage.text)] or [passage.text]
        vectors = self.embedder.embed([claim, *sentences])
        semantic = float(np.max(vectors[1:] @ vectors[0]))
        return semantic >= SEMANTIC_SUPPORT, max(lexical, semantic)

    def support_nearby(self, claim: str, passage: Chunk, window: int = 3) -> bool:
        """Stricter than `support`: the claim's names and numbers, and most of its words, are within a few
        consecutive sentences of the passage — so a sentence that joins a name from one part of a passage to
        a fact from another ("the resilience work took place in Tyneside") does not pass."""
        if not self.support(claim, passage)[0]:
            return False
        spans = sentence_spans(passage.text) or [(0, len(passage.text))]
        texts = [passage.text[s:e] for s, e in spans]
        numbers = re.findall(r"\d+(?:[.,]\d+)?", claim)
        stems = [n.lower()[:4] for n in names(claim)]
        words = set(tokenize([claim])[0])
        for i in range(len(texts)):
            near = " ".join(texts[i : i + window])
            low = f"{passage.title}\n{near}".lower()
            if any(n not in near for n in numbers) or any(n not in low for n in stems):
                continue
            found = set(tokenize([f"{passage.title} {near}"])[0])
            if not words or len(words & found) / len(words) >= LEXICAL_SUPPORT:
                return True
        return False

    def attribute(self, answer: str, passages: list[Chunk], mapping: dict[int, int]) -> tuple[str, int]:
        """Add a marker to each sentence the model left uncited, pointing at the passage that best supports it.

        Small local models often answer well but forget the markers; a sentence no passage supports
        stays unmarked. `mapping` (passage number → marker) is extended in place. Returns the new
        text and how many sentences are still untraced.
        """
        out, untraced, last = [], 0, 0
        for s, e in sentence_spans(answer):
            sentence = answer[s:e]
            out.append(answer[last:s])
            last = e
            if MARKER.search(sentence) or not re.search(r"[A-Za-z]{3}", sentence):
                out.append(sentence)
                continue
            best = max(
                ((self.support(sentence, p), i) for i, p in enumerate(passages, 1)),
                key=lambda x: (x[0][0], x[0][1]),
                default=((False, 0.0), 0),
            )
            (ok, _), number = best
            if not ok:
                untraced += 1
                out.append(sentence)
                continue
            mark = f"[{mapping.setdefault(number, len(mapping) + 1)}]"
            m = re.search(r"[.!?]?[\"”’)]*$", sentence)
            cut = m.start() if m else len(sentence)
            out.append(f"{sentence[:cut].rstrip()} {mark}{sentence[cut:]}")
        out.append(answer[last:])
        return "".join(out), untraced

    def citations(
        self, answer: str, passages: list[Chunk], mapping: dict[int, int], cosine: dict[str, float]
    ) -> list[Citation]:
        """One citation per cited passage (numbered as in the answer): `verified` set by its claims, the
        passage sentence that best matches each claim highlighted, `score` from `cosine` (chunk id → similarity)."""
        by_new = {new: passages[old - 1] for old, new in mapping.items()}
        verdicts: dict[int, list[bool]] = {n: [] for n in by_new}
        highlights: dict[int, list[tuple[int, int]]] = {n: [] for n in by_new}
        for claim in claims(answer):
            for n in claim.cites:
                if n in by_new:
                    verdicts[n].append(self.support(claim.text, by_new[n])[0])
                    span = closest_sentence(claim.text, by_new[n].text)
                    if span and span not in highlights[n]:
                        highlights[n].append(span)
        return [
            Citation(
                n,
                p.source,
                p.title,
                p.text,
                cosine.get(p.id, 0.0),
                verified=bool(verdicts[n]) and all(verdicts[n]),
                entry_id=p.metadata.get("entry_id"),
                highlights=sorted(highlights[n]),
            )
            for n, p in sorted(by_new.items())
        ]


def closest_sentence(claim: str, passage: str) -> tuple[int, int] | None:
    """Offsets of the passage sentence sharing the most (stemmed) words with a claim; None if it shares none."""
    claim_tokens = set(tokenize([claim])[0])
    spans = sentence_spans(passage)
    if not claim_tokens or not spans:
        return None
    overlaps = [len(claim_tokens & set(toks)) for toks in tokenize([passage[s:e] for s, e in spans])]
    best = max(range(len(spans)), key=lambda i: overlaps[i])
    return spans[best] if overlaps[best] else None

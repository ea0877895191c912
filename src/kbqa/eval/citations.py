"""Citation recall and precision in the sense of ALCE (Gao et al., 2023), without an LLM.

An answer is split into statements (sentences; a list's lead-in line "X entries …:" is read together
with each of its bullets instead of on its own). A set of passages *supports* a statement when one of
them quotes it (whitespace- and case-insensitive, markers and bullets removed) or kbqa's own support
check (`Verifier.support`: numbers and names present, enough stemmed words, or a close MiniLM match)
accepts it against the passages joined. Then, per statement s with citations C:

- s is *supported* when C is non-empty, every marker points to a citation, and C supports s;
- a citation c in C is *unneeded* when c alone does not support s but C without c still does;
- citation recall = supported statements / statements;
- citation precision = citations that are not unneeded, on supported statements / all citations
  (every citation of an unsupported statement counts against it); None when the answer cites nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kbqa.answer.verify import claims
from kbqa.schema import Chunk
from kbqa.text import normalize_space

BULLET = re.compile(r"^\s*(?:[•\-*]|\d+[.)])\s+")
MARKERS = re.compile(r"\[(\d+)\]")


@dataclass
class Passage:
    """A cited passage as the answer gave it."""

    n: int
    title: str
    text: str


@dataclass
class Statement:
    """One statement of an answer, with what the checks found."""

    text: str
    cites: list[int]
    supported: bool = False
    how: str | None = None  # "quote" or "verifier" when supported
    unneeded: list[int] = field(default_factory=list)


Supports = Callable[[str, list[Passage]], str | None]  # how the passages support the text, or None


def statements(answer: str) -> list[tuple[str, list[int]]]:
    """(text, markers) per statement of an answer.

    A marker followed by a new sentence ends its statement even without a full stop (extractive answers
    quote title lines); a bullet line is one statement, read after its list's lead-in line ("2 entries …:"),
    which is not a statement of its own when bullets follow it."""
    text = re.sub(r"((?:\[\d+\]\s*)*\[\d+\])[ \t]+(?=[\"“‘(]?[A-Z0-9•])", "\\1\n", answer)
    out: list[tuple[str, list[int]]] = []
    lead: str | None = None
    lead_used = False
    for line in text.splitlines():
        cites = [int(n) for n in MARKERS.findall(line)]
        bare = normalize_space(MARKERS.sub("", line))
        if not re.search(r"[^\W\d_]{2}", bare):
            continue
        if BULLET.match(bare):
            body = BULLET.sub("", bare)
            out.append((f"{lead} {body}" if lead else body, list(dict.fromkeys(cites))))
            lead_used = lead is not None
            continue
        if lead is not None and not lead_used:  # a lead-in with no bullets after it is a statement after all
            out.append((lead, []))
        lead, lead_used = None, False
        if bare.endswith(":") and not cites:
            lead = bare
            continue
        out += [(c.text, c.cites) for c in claims(line) if re.search(r"[^\W\d_]{2}", c.text)]
    if lead is not None and not lead_used:
        out.append((lead, []))
    return out


class SupportCheck:
    """Quote containment first (extractive answers quote their passages), then kbqa's Verifier."""

    def __init__(self, verifier: Any | None) -> None:
        self.verifier = verifier  # kbqa.answer.verify.Verifier, or None for quote containment only

    def __call__(self, text: str, passages: list[Passage]) -> str | None:
        quoted = _norm(text)
        if quoted and any(quoted in _norm(p.text) for p in passages):
            return "quote"
        if self.verifier is None or not passages:
            return None
        joined = Chunk(
            id="", text="\n".join(p.text for p in passages), source="", title=" / ".join(p.title for p in passages)
        )
        ok, _ = self.verifier.support(text, joined)
        return "verifier" if ok else None


def _norm(text: str) -> str:
    return normalize_space(BULLET.sub("", text)).strip().lower()


def check(answer: str, citations: list[Passage], supports: Supports) -> list[Statement]:
    """Judge every statement of `answer` against the passages its markers point to (ALCE)."""
    by_n = {p.n: p for p in citations}
    out = []
    for text, cites in statements(answer):
        st = Statement(text, cites)
        out.append(st)
        if not cites or any(n not in by_n for n in cites):
            continue
        st.how = supports(text, [by_n[n] for n in cites])
        st.supported = st.how is not None
        if not st.supported or len(cites) < 2:
            continue
        for n in cites:
            alone = supports(text, [by_n[n]]) is not None
            rest = [by_n[m] for m in cites if m != n]
            if not alone and supports(text, rest) is not None:
                st.unneeded.append(n)
    return out


def recall(checked: list[Statement]) -> float | None:
    """Share of statements supported by their citations; None for an answer with no statements."""
    return sum(s.supported for s in checked) / len(checked) if checked else None


def precision(checked: list[Statement]) -> float | None:
    """Share of citations that are needed (on a supported statement and not unneeded); None if none."""
    total = sum(len(s.cites) for s in checked)
    if not total:
        return None
    good = sum(len(s.cites) - len(s.unneeded) for s in checked if s.supported)
    return good / total


def to_json(checked: list[Statement]) -> list[dict[str, Any]]:
    return [asdict(s) for s in checked]


def from_json(rows: list[dict[str, Any]]) -> list[Statement]:
    return [Statement(**row) for row in rows]

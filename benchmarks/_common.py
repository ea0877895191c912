"""Helpers shared by the benchmarks (not a test module; the benchmarks are run by hand).

Each benchmark prints a short report on stdout (or one JSON object with `--json`)
and its progress on stderr, and removes every temporary folder it made.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
QUESTIONS = REPO / "evals" / "sets" / "dev.jsonl"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    return p


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the report (or the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_LOAD_AT_START = os.getloadavg()[0]


def machine() -> dict[str, Any]:
    """The machine, with its 1-minute load average when the benchmark started and now (other work skews times)."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m_start": round(_LOAD_AT_START, 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"  machine          {m['cpus']} cores, Python {m['python']}, 1-min load average "
        f"{m['loadavg_1m_start']} at start, {m['loadavg_1m_end']} at end"
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q% of values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50/p95/min/max/mean of a list of milliseconds, rounded for printing."""
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "mean": round(statistics.fmean(values), 1),
    }


def questions(limit: int | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row.setdefault("history", [])
    return rows[:limit] if limit else rows


def emit(args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(lines))


# ---------------------------------------------------------------- phase timing by monkeypatching


class PhaseTimer:
    """Wraps functions to add up their *exclusive* wall time per phase name.

    A timed call made inside another timed call is subtracted from the outer one,
    so the phases never count the same second twice and `other` is what is left.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[float] = []  # time spent in timed children of each open call
        self._restore: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, phase: str, eager: bool = False) -> None:
        """Replace `owner.attr` with a timed version; `eager` materialises a returned iterator inside the timer."""
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        func = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
        timer = self

        @functools.wraps(func)
        def timed(*a: Any, **kw: Any) -> Any:
            timer._stack.append(0.0)
            started = time.perf_counter()
            try:
                result = func(*a, **kw)
                if eager:
                    result = iter(list(result))
                return result
            finally:
                elapsed = time.perf_counter() - started
                children = timer._stack.pop()
                timer.seconds[phase] += elapsed - children
                timer.calls[phase] += 1
                if timer._stack:
                    timer._stack[-1] += elapsed

        setattr(owner, attr, timed)
        self._restore.append((owner, attr, original))

    def restore(self) -> None:
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()

    @contextmanager
    def active(self) -> Iterator[PhaseTimer]:
        try:
            yield self
        finally:
            self.restore()


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started


# ---------------------------------------------------------------- synthetic text from the real corpus

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(])")
_ENTRY_TITLE = re.compile(
    r"^\S.{2,300}\((?:[A-Z][a-z]+\.? )?(?:19|20)\d{2}[^()]*\)$|^\S.{2,300}\((?:ongoing|present)\)$"
)


def corpus_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if p.is_file()}


def corpus_pieces() -> dict[str, list[str]]:
    """The corpus cut into the kinds of lines a knowledge-base page has.

    prose: paragraphs of running text; sentences: their sentences; titles: entry title
    lines such as "Name of project (2014 – 2016)"; keywords / contributors: the field lines.
    """
    from kbqa.ingestion.clean import clean

    prose, titles, keywords, contributors = [], [], [], []
    for text in corpus_texts().values():
        for para in clean(text).split("\n\n"):
            para = para.strip()
            low = para.lower()
            if low.startswith("keywords"):
                keywords.append(para)
            elif low.startswith("contributed by"):
                contributors.append(para)
            elif _ENTRY_TITLE.match(para):
                titles.append(para)
            elif len(para) >= 200 and "\n" not in para:
                prose.append(para)
    sentences = [s for p in prose for s in _SENTENCE_END.split(p) if len(s.split()) >= 5]
    return {
        "prose": prose,
        "sentences": sentences,
        "titles": titles,
        "keywords": keywords,
        "contributors": contributors,
    }


def synthetic_page(rng: random.Random, pieces: dict[str, list[str]], entries: int = 8) -> str:
    """A knowledge-base page in the corpus' own format, recombined from corpus paragraphs.

    Each entry has a title line with dates, 2-5 paragraphs (sentence order shuffled
    within each, so no two chunks are identical), then Keywords and Contributed by lines.
    """
    lines = ["Search the co-production knowledge base", "", "Research – synthetic benchmark page", ""]
    for _ in range(entries):
        lines += [rng.choice(pieces["titles"]), ""]
        for para in rng.sample(pieces["prose"], min(rng.randint(2, 5), len(pieces["prose"]))):
            sentences = _SENTENCE_END.split(para)
            rng.shuffle(sentences)
            lines += [" ".join(sentences), ""]
        lines += [rng.choice(pieces["keywords"]), "", rng.choice(pieces["contributors"]), "", ""]
    return "\n".join(lines)

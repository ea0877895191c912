"""Clean text: whitespace normalised, web boilerplate lines dropped, hard-wrapped (PDF) lines re-joined.

Re-joining also repairs words a renderer hyphenated at a line end ("collec-" + "tive" → "collective")
while keeping real hyphens ("co-" + "production" → "co-production"); see `_Vocabulary.keeps_hyphen`.
"""

from __future__ import annotations

import re
import unicodedata

# Whole lines that are web-page furniture, not content (matched case-insensitively).
_BOILERPLATE = re.compile(
    r"^(?:"
    r"search(?: for)?:?"
    r"|search (?:the |this |our )?[\w\s-]{0,40}(?:knowledge ?base|site|website|blog|archive)"
    r"|leave a (?:reply|comment)(?: cancel reply)?"
    r"|your email address will not be published\.?.*"
    r"|required fields are marked\s*\*?"
    r"|skip to (?:main )?content"
    r"|(?:post )?comment\s*\*?|name\s*\*|e-?mail\s*\*|website"
    r"|save my name, email, and website in this browser.*"
    r"|(?:share|like) this:?|share|print|back to top|menu|main menu|toggle navigation"
    r"|(?:accept|reject)(?: all)? cookies|cookie (?:policy|settings|preferences)"
    r"|(?:\d+\s+){2,}\d+"  # pagination widgets such as "10 25 50"
    r"|(?:©|copyright\b).{0,120}"
    r")$",
    re.IGNORECASE,
)
_INLINE_BOILERPLATE = re.compile(r"\s*\((?:original|raw)\)(?:\s*\((?:original|raw)\))*\s*$", re.IGNORECASE)


def clean(text: str, hard_wrapped: bool | None = None) -> str:
    """Normalise whitespace, drop boilerplate lines, and re-join hard-wrapped paragraphs.

    `hard_wrapped`: True when the text is known to come as printed lines (a PDF: re-joined however short
    it is), False never to re-join, None to decide from the text itself (plain text files can be wrapped too).
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = []
    for raw in text.split("\n"):
        line = re.sub(r"[ \t\f\v]+", " ", raw).strip()
        if _BOILERPLATE.match(line):
            continue
        line = _INLINE_BOILERPLATE.sub("", line)
        lines.append(line)
    if hard_wrapped or (hard_wrapped is None and _is_hard_wrapped(lines)):
        lines = _unwrap(lines)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _is_hard_wrapped(lines: list[str]) -> bool:
    """True for text extracted from PDFs: most lines end mid-sentence and run straight into the next."""
    pairs = [(a, b) for a, b in zip(lines, lines[1:]) if a and b]
    if len(pairs) < 8:
        return False
    mid_sentence = sum(1 for a, _ in pairs if not re.search(r"[.!?:;\"”’)]$", a))
    return len(pairs) > 0.5 * sum(1 for line in lines if line) and mid_sentence > 0.4 * len(pairs)


def _unwrap(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs; keep headings, bullets and blank lines as breaks."""
    vocabulary = _Vocabulary(lines)
    marked = any(line.startswith("# ") for line in lines)  # headings known (a PDF's larger type): no guessing
    lengths = sorted(len(line) for line in lines if line)
    full = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0  # the length of a full line of text
    out: list[str] = []
    after_heading = False  # the last line kept was judged a heading where it stood: nothing joins onto it,
    # and the line after it is judged as if it followed a blank line (a subtitle is a heading too)
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        prev = out[-1] if out else ""
        if marked:
            heading = line.startswith("# ")
        else:
            heading = _looks_like_heading(line, "" if after_heading else prev, following, full)
        starts_block = not line or BULLET.match(line) or heading
        continues = prev and not after_heading
        if line and not starts_block and continues and (not re.search(r"[.!?]$", prev) or line[:1].islower()):
            out[-1] = _join_lines(prev, line, vocabulary)
        else:
            if line and out and out[-1]:
                out.append("")
            out.append(line)
            after_heading = heading
    return out


BULLET = re.compile(r"^(?:[•·▪◦‣*-]|\d{1,2}[.)])\s+")
# A heading never ends on one of these: a line that does is a sentence wrapped mid-way ("… all of").
_OPEN_ENDING = re.compile(
    r"\b(?:a|an|the|of|to|in|on|at|by|for|from|with|and|or|but|nor|as|than|that|which|who|whose|is|are|was|were|be)$",
    re.IGNORECASE,
)


def _looks_like_heading(line: str, prev: str, following: str = "", full: int = 0) -> bool:
    """A short line without closing punctuation that follows a finished sentence or a blank line, and that
    is not a line of a wrapped sentence: one that fills the column (`full` characters) between two lines
    of text, one the next line continues in lower case, or one that stops on "of", "the", …"""
    if not line or len(line) > 90 or BULLET.match(line) or not re.search(r"[A-Za-z]{3}", line):
        return False
    if prev and following and len(line) >= 0.8 * full:
        return False
    if re.search(r"[.,;:]$", line) or _HYPHEN_END.search(line) or following[:1].islower():
        return False
    if line.isupper():
        return True
    if _OPEN_ENDING.search(line):
        return False
    words = line.split()
    prev_done = not prev or bool(re.search(r"[.!?:]$", prev))
    return prev_done and len(words) <= 8 and words[0][:1].isupper()


# ---------------------------------------------------------------- words hyphenated at a line end

_LETTER = r"[^\W\d_]"
_HYPHEN_END = re.compile(r"(?<=\w)-$")  # "collec-", "mid-": a hyphen ending the line right after a word
_HEAD = re.compile(rf"({_LETTER}+)-$")
_TAIL = re.compile(rf"^({_LETTER}+)")
_COMPOUND = re.compile(rf"\b({_LETTER}+)-({_LETTER}+)\b")
# First and second halves English writes with a hyphen ("co-production", "self-help", "community-led",
# "place-based", "long-term"): kept when the document itself does not settle the question (`keeps_hyphen`).
_HYPHEN_PREFIXES = frozenset({"co", "self", "non", "cross"})
_HYPHEN_SUFFIXES = frozenset({"led", "based", "driven", "centred", "owned", "run", "wide", "making", "term", "level"})


class _Vocabulary:
    """The words and hyphenated compounds a document uses within its lines (never the fragments of a word
    broken at a line end): its own evidence of how a broken word is spelled. No dictionary is needed, and
    the document's own usage wins over one."""

    def __init__(self, lines: list[str]) -> None:
        self.words: set[str] = set()
        self.compounds: set[str] = set()
        self.prefixes: set[str] = set()
        self.suffixes: set[str] = set()
        for prev, line in zip(["", *lines], lines):
            inner = _HEAD.sub("", line)  # not the fragment broken at this line's end ...
            if _HYPHEN_END.search(prev):
                inner = _TAIL.sub("", inner)  # ... nor the one that continues the previous line's
            self.words.update(w.lower() for w in re.findall(rf"{_LETTER}+", inner))
            for head, tail in _COMPOUND.findall(inner):
                self.compounds.add(f"{head}-{tail}".lower())
                self.prefixes.add(head.lower())
                self.suffixes.add(tail.lower())

    def keeps_hyphen(self, head: str, tail: str) -> bool:
        """Is "head-" + "tail" at a line break a real hyphen ("co-production") rather than a renderer's
        break inside one word ("collec-tive")? The document's own spelling decides, in this order: the
        compound used elsewhere keeps it; the whole word (or a longer form of it) drops it; `head` or `tail`
        used elsewhere in a hyphenated compound ("co-design", "user-led"), or a half English hyphenates
        ("co-", "-led"), keeps it; two whole words of 3+ letters used elsewhere ("community", "led") keep
        it. Anything else is one word the renderer split: the default, as most line-end hyphens are."""
        head, tail = head.lower(), tail.lower()
        joined = head + tail
        if f"{head}-{tail}" in self.compounds:
            return True
        if joined in self.words or any(w.startswith(joined) for w in self.words):
            return False
        if head in self.prefixes | _HYPHEN_PREFIXES or tail in self.suffixes | _HYPHEN_SUFFIXES:
            return True
        return min(len(head), len(tail)) >= 3 and head in self.words and tail in self.words


def _join_lines(prev: str, line: str, vocabulary: _Vocabulary) -> str:
    """`prev` and its continuation `line` as one line: a space between them, or none after a hyphen."""
    if not (_HYPHEN_END.search(prev) and re.match(r"\w", line)):
        return prev + " " + line
    head, tail = _HEAD.search(prev), _TAIL.match(line)
    # a lower-case continuation, or a word in capitals broken in two ("IN-" + "TERVIEWS" in a heading)
    same_case = line[:1].islower() or bool(head and tail and head[1].isupper() and tail[1].isupper())
    if head and tail and same_case and not vocabulary.keeps_hyphen(head[1], tail[1]):
        return prev[:-1] + line
    return prev + line  # a real hyphen: "co-production", "pre-COVID", "mid-2019", "CO-PRODUCTION"

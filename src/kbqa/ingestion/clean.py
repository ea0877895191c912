"""Clean text: whitespace normalised, web boilerplate lines dropped, hard-wrapped (PDF) lines re-joined."""

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


def clean(text: str) -> str:
    """Normalise whitespace, drop boilerplate lines, and re-join hard-wrapped paragraphs."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = []
    for raw in text.split("\n"):
        line = re.sub(r"[ \t\f\v]+", " ", raw).strip()
        if _BOILERPLATE.match(line):
            continue
        line = _INLINE_BOILERPLATE.sub("", line)
        lines.append(line)
    if _is_hard_wrapped(lines):
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
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        starts_block = not line or BULLET.match(line) or _looks_like_heading(line, prev)
        continues = prev and not _looks_like_heading(prev, out[-2] if len(out) > 1 else "")
        if (
            line
            and not starts_block
            and continues
            and not re.search(r"[.!?]$", prev)
            or line
            and not starts_block
            and continues
            and line[:1].islower()
        ):
            out[-1] = prev + " " + line
        else:
            if line and out and out[-1]:
                out.append("")
            out.append(line)
    return out


BULLET = re.compile(r"^(?:[•·▪◦‣*-]|\d{1,2}[.)])\s+")


def _looks_like_heading(line: str, prev: str) -> bool:
    """A short line without closing punctuation that follows a finished sentence or a blank line."""
    if not line or len(line) > 90 or BULLET.match(line) or not re.search(r"[A-Za-z]{3}", line):
        return False
    if re.search(r"[.,;:]$", line):
        return False
    if line.isupper():
        return True
    words = line.split()
    prev_done = not prev or bool(re.search(r"[.!?:]$", prev))
    return prev_done and len(words) <= 8 and words[0][:1].isupper()

"""LLM answers: grounded generation over the retrieved passages, streamed, with verified citations.

The extractive answer is computed first. It is the gate (when it abstains, the
passages do not cover the question and the LLM is not asked: small models
answer anyway) and the fallback (when the endpoint fails, it is shown, marked
as such, with the reason).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace

from kbqa.answer import Context, Request, prompt
from kbqa.answer.extractive import ExtractiveAnswerer
from kbqa.answer.verify import MARKER, Renumberer, Verifier, claims, names
from kbqa.errors import LLMError
from kbqa.llm.client import LLMClient, Reply, resolve
from kbqa.schema import Answer, Chunk, Event, Final, FollowUp, Hit, Reset, TextDelta
from kbqa.text import instructions_notice, tokenize
from kbqa.tokens import count_tokens

_REFUSAL = re.compile(
    r"does(?: not|n't) (?:cover|contain|answer|mention|say|include|provide)|not (?:covered|mentioned|found|stated)"
    r"|no information|cannot (?:find|answer|be answered)|can't (?:find|answer)|I don't know",
    re.IGNORECASE,
)


def condense(client: LLMClient, question: str, turns: list[tuple[str, str]], history_tokens: int, fallback: str) -> str:
    """A follow-up rewritten by the LLM into a standalone question (the carry-over one if the rewrite is unusable)."""
    reply = client.complete(prompt.condense_messages(question, turns, history_tokens), max_tokens=64)
    return prompt.clean_condensed(reply.text, question, fallback)


def stream_answer(
    question: str,
    hits: list[Hit],
    fallback: Answer,
    client: LLMClient,
    verifier: Verifier,
) -> Iterator[Event]:
    """Stream the model's rewrite of the extractive answer as it is generated (a `Reset` when a retry or a
    correction discards text), then its verified `Final`.

    The model is never worse than the extractive answer by construction: its sentences that no passage
    supports are left out, and every sentence of the extractive answer whose facts (numbers, and words
    beyond the question's) the kept text does not state is added back verbatim, cited. If nothing of the
    model's answer holds up, the extractive answer is shown, marked as a fallback, with the reason.
    """
    started = time.perf_counter()
    if fallback.abstained:
        yield Final(
            replace(fallback, notice="the retrieved passages do not cover this question, so the LLM was not asked")
        )
        return
    cfg = client.config
    chunk_of = {h.chunk.text: h.chunk for h in hits}
    cited = {c.n: chunk_of[c.text] for c in fallback.citations if c.text in chunk_of}
    quoted, tail = quoted_sentences(fallback.answer)
    draft = [(sentence, cited[n]) for sentence, n in quoted if n in cited]
    # The passages the extractive answer quotes, in its order: the model is shown their quoted sentences only.
    ordered = list({cited[n].id: cited[n] for _, n in quoted if n in cited}.values())
    packed = prompt.answer_messages(question, ordered, cfg.context_window, cfg.max_output_tokens, draft=draft)
    position = {c.id: i for i, c in enumerate(packed.passages, 1)}
    if not draft or len(draft) != len(quoted) or any(chunk.id not in position for _, chunk in draft):
        reason = "the passages of the extracted answer did not fit the model's prompt, so the LLM was not asked"
        yield Final(replace(fallback, status="fallback", notice="; ".join(n for n in (fallback.notice, reason) if n)))
        return
    renumber = Renumberer(len(packed.passages))
    text, reply, first_token = "", Reply(), None
    try:
        for piece in client.stream(packed.messages):
            if isinstance(piece, Reset):
                renumber, text = Renumberer(len(packed.passages)), ""
                yield piece
            elif isinstance(piece, Reply):
                reply = piece
            elif out := renumber.feed(piece):
                first_token = first_token or time.perf_counter()
                text += out
                yield TextDelta(out)
        if tail := renumber.flush():
            text += tail
            yield TextDelta(tail)
    except LLMError as exc:
        if text:
            yield Reset(str(exc))
        yield Final(replace(fallback, status="fallback", notice=f"{exc}; showing the extractive answer instead"))
        return
    timings = {
        "retrieve_ms": fallback.timings.get("retrieve_ms", 0.0),
        "gate_ms": fallback.timings.get("answer_ms", 0.0),  # the extractive answer, computed first
        "answer_ms": (time.perf_counter() - started) * 1000,
    }
    if first_token:
        timings["first_token_ms"] = (first_token - started) * 1000
    usage = reply.usage or {
        "prompt_tokens": sum(count_tokens(m["content"]) for m in packed.messages),
        "completion_tokens": count_tokens(reply.text),
    }
    shown = text.strip()

    def extractive(reason: str) -> Iterator[Event]:
        if shown:
            yield Reset(reason)
            yield TextDelta(fallback.answer)
        notes = [n for n in (fallback.notice, reason) if n]
        yield Final(
            replace(
                fallback,
                status="fallback",
                model=reply.model or cfg.model,
                usage=usage,
                timings=timings,  # the time the model took counts: the user waited for it
                notice="; ".join(notes),
            )
        )

    if not MARKER.search(shown) and _REFUSAL.search(shown):
        yield from extractive(
            "the model declined although the passages answer the question; showing the extracted answer"
        )
        return
    attributed, _ = verifier.attribute(shown, packed.passages, renumber.mapping)
    model, dropped, pruned = supported_claims(attributed, renumber.mapping, packed.passages, verifier)
    if not model:
        yield from extractive(
            "the model's answer could not be verified against the sources; showing the extracted answer"
        )
        return
    missing = [  # a fact counts as kept only in a sentence that cites the passage it comes from
        (sentence, position[chunk.id])
        for sentence, chunk in draft
        if not covers(" ".join(t for t, cites in model if position[chunk.id] in cites), sentence, question)
    ]
    if missing:  # the model's sentences that the restored quotes already say would only repeat them
        restored = " ".join(sentence for sentence, _ in missing)
        model = [(t, cites) for t, cites in model if not covers(restored, t, question)]
    if not model:
        yield from extractive(
            "the model's rewrite left out facts of the extracted answer; showing the extracted answer"
        )
        return
    if not (dropped or pruned or missing) and attributed == shown:  # it stands as streamed
        body, mapping = shown + (f" {tail}" if tail else ""), renumber.mapping
    else:
        body, mapping = render(model, missing, tail)
    if body != shown:
        rest = body[len(shown) :].lstrip() if body.startswith(shown) else ""
        if rest and body in (text + rest, text + " " + rest):
            yield TextDelta(body[len(text) :])  # only added to: the streamed text stands
        else:
            yield Reset("checked against the sources: unsupported sentences left out, missing facts restored")
            yield TextDelta(body)
    cosine = {h.chunk.id: h.dense or 0.0 for h in hits}
    answer = Answer(
        question=fallback.question,
        answer=body,
        citations=verifier.citations(body, packed.passages, mapping, cosine),
        answerer="llm",
        timings=timings,
        standalone_question=fallback.standalone_question,
        model=reply.model or cfg.model,
        usage=usage,
        confidence=fallback.confidence,
        quoted=fallback.answer,
    )
    notes = []
    if packed.left_out:
        notes.append(instructions_notice(packed.left_out))
    if dropped:
        notes.append(f"left out {dropped} sentence(s) of the model's answer that the sources do not support")
    if missing:
        notes.append(f"added {len(missing)} sentence(s) quoted from the sources that the model's answer left out")
    answer.notice = "; ".join(notes) or None
    yield Final(answer)


def quoted_sentences(answer: str) -> tuple[list[tuple[str, int]], str]:
    """The sentences of an extractive answer with their marker numbers ("… Sheffield and Hull. [1]" → …, 1),
    and the uncited text after the last one (the part of a question the knowledge base does not answer)."""
    found = list(re.finditer(r"\s*(.+?)\s*\[(\d+)\]", answer, re.S))
    tail = answer[found[-1].end() :].strip() if found else answer.strip()
    return [(m.group(1).strip(), int(m.group(2))) for m in found], tail


def supported_claims(
    answer: str, mapping: dict[int, int], passages: list[Chunk], verifier: Verifier
) -> tuple[list[tuple[str, list[int]]], int, int]:
    """The answer's sentences that cite a passage that supports them, each with the (prompt) numbers of the
    passages that do; how many sentences were left out, and how many markers of kept ones. `mapping`: prompt
    number → marker shown."""
    number = {marker: n for n, marker in mapping.items()}
    kept: list[tuple[str, list[int]]] = []
    dropped = pruned = 0
    for claim in claims(answer):
        cites = [number[m] for m in claim.cites if m in number]
        if good := [n for n in cites if verifier.support_nearby(claim.text, passages[n - 1])]:
            kept.append((claim.text, good))
            pruned += len(claim.cites) - len(good)
        else:
            dropped += 1
    return kept, dropped, pruned


def render(model: list[tuple[str, list[int]]], quoted: list[tuple[str, int]], tail: str) -> tuple[str, dict[int, int]]:
    """The answer text: the model's sentences with their markers, then the quoted ones (as the extractive
    answer shows them), then `tail`; markers numbered 1, 2, … in order of appearance. Returns the text and
    the mapping prompt number → marker."""
    mapping: dict[int, int] = {}

    def marks(cites: list[int]) -> str:
        return "".join(f"[{mapping.setdefault(n, len(mapping) + 1)}]" for n in cites)

    pieces = []
    for text, cites in model:
        if text[-1:] in ".!?":
            pieces.append(f"{text[:-1].rstrip()} {marks(cites)}{text[-1]}")
        else:
            pieces.append(f"{text} {marks(cites)}")
    pieces += [f"{sentence} {marks([n])}" for sentence, n in quoted]
    out = ""
    for piece in pieces:  # list items and the lines after a lead-in go on lines of their own, as quoted
        joiner = "\n" if piece.startswith(("•", "-", "*")) or re.sub(r"\s*\[\d+\]$", "", out).endswith(":") else " "
        out = piece if not out else out + joiner + piece
    return (f"{out} {tail}" if tail else out), mapping


def covers(answer: str, sentence: str, question: str) -> bool:
    """Does the answer state what the sentence states: its numbers and names as written, and its words
    beyond the question's (stemmed)?"""
    plain = re.sub(r"\s*\[\d+\]", "", answer)
    if any(n not in plain for n in re.findall(r"\d+(?:[.,:]\d+)*", sentence)):
        return False
    if any(name.lower() not in plain.lower() for name in names(sentence)):
        return False
    words = set(tokenize([sentence])[0]) - set(tokenize([question])[0])
    return words <= set(tokenize([plain])[0])


class LLMAnswerer:
    """Answers written by an LLM over the same passages, gated by and falling back to the extractive answer."""

    name = "llm"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return request.llm is not None

    def stream(self, request: Request) -> Iterator[Event]:
        """Condense a follow-up, retrieve, gate on the extractive answer, generate, verify."""
        settings = self.context.settings
        client = LLMClient(resolve(settings, request.llm))
        follow, asked = request.follow, request.question
        if follow.context is not None and request.turns:
            try:
                rewritten = condense(
                    client, request.question, list(request.turns), settings.history_tokens, follow.standalone
                )
            except LLMError:
                rewritten = follow.standalone  # the answer step meets the same failure and reports it
            if rewritten != follow.standalone:  # the model resolved the reference: search for its question
                follow, asked = FollowUp(rewritten), rewritten
        extractive = ExtractiveAnswerer(self.context)
        fallback, hits = extractive.answer(replace(request, question=asked, follow=follow))
        if fallback.abstained and follow is not request.follow:
            # the model's rewrite found nothing, the rules' reading may: the LLM path never answers less
            ruled, ruled_hits = extractive.answer(request)
            if not ruled.abstained:
                fallback, hits, follow = ruled, ruled_hits, request.follow
        fallback.question, fallback.standalone_question = request.question, follow.standalone
        yield from stream_answer(follow.standalone, hits, fallback, client, Verifier(self.context.embedder))

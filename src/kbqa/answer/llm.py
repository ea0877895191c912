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
from kbqa.answer.verify import MARKER, Renumberer, Verifier
from kbqa.errors import LLMError
from kbqa.llm.client import LLMClient, Reply, resolve
from kbqa.schema import Answer, Event, Final, FollowUp, Hit, Reset, TextDelta
from kbqa.text import instructions_notice
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
    """Stream the answer as it is generated (a `Reset` when a retry discards text), then its verified `Final`."""
    started = time.perf_counter()
    if fallback.abstained:
        yield Final(
            replace(fallback, notice="the retrieved passages do not cover this question, so the LLM was not asked")
        )
        return
    cfg = client.config
    # The passages the extractive answer quotes go first: small models lean on the first source.
    cited = {c.text for c in fallback.citations}
    ordered = [h.chunk for h in hits if h.chunk.text in cited] + [h.chunk for h in hits if h.chunk.text not in cited]
    packed = prompt.answer_messages(question, ordered, cfg.context_window, cfg.max_output_tokens)
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
    answer = Answer(
        question=fallback.question,
        answer=text.strip(),
        citations=[],
        answerer="llm",
        timings=timings,
        standalone_question=fallback.standalone_question,
        model=reply.model or cfg.model,
        usage=usage,
        confidence=fallback.confidence,
    )
    if not MARKER.search(text) and _REFUSAL.search(text):
        answer.status = "abstained"
        yield Final(answer)
        return
    answer.answer, untraced = verifier.attribute(answer.answer, packed.passages, renumber.mapping)
    cosine = {h.chunk.id: h.dense or 0.0 for h in hits}
    answer.citations = verifier.citations(answer.answer, packed.passages, renumber.mapping, cosine)
    notes = []
    if packed.left_out:
        notes.append(instructions_notice(packed.left_out))
    if not any(c.verified for c in answer.citations):
        answer.status = "unsupported"
        notes.append("no citation of this answer could be verified against its passage; treat it as unsupported")
    elif untraced:
        notes.append(f"{untraced} sentence(s) could not be traced to any passage")
    answer.notice = "; ".join(notes) or None
    yield Final(answer)


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
        gate = replace(request, question=asked, follow=follow)
        fallback, hits = ExtractiveAnswerer(self.context).answer(gate)
        fallback.question, fallback.standalone_question = request.question, follow.standalone
        yield from stream_answer(follow.standalone, hits, fallback, client, Verifier(self.context.embedder))

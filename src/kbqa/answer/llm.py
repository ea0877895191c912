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

from kbqa.answer import prompt
from kbqa.answer.verify import MARKER, Renumberer, Verifier
from kbqa.errors import LLMError
from kbqa.llm.client import LLMClient, Reply, Reset
from kbqa.schema import Answer, Hit
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
) -> Iterator[str | Reset | Answer]:
    """Yield answer text as it is generated (with `Reset` when a retry discards it), then the final Answer."""
    started = time.perf_counter()
    if fallback.abstained:
        yield replace(fallback, notice="the retrieved passages do not cover this question, so the LLM was not asked")
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
                yield out
        if tail := renumber.flush():
            text += tail
            yield tail
    except LLMError as exc:
        if text:
            yield Reset(str(exc))
        yield replace(fallback, fallback=True, notice=f"{exc}; showing the extractive answer instead")
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
        abstained=False,
        timings=timings,
        standalone_question=fallback.standalone_question,
        model=reply.model or cfg.model,
        usage=usage,
    )
    if not MARKER.search(text) and _REFUSAL.search(text):
        answer.abstained = True
        yield answer
        return
    answer.answer, untraced = verifier.attribute(answer.answer, packed.passages, renumber.mapping)
    answer.citations = verifier.citations(answer.answer, packed.passages, renumber.mapping)
    cited = {c.text for c in answer.citations}
    answer.entry_ids = list(dict.fromkeys(h.chunk.metadata.get("entry_id") for h in hits if h.chunk.text in cited))
    answer.topic = next((c.title for c in answer.citations if c.verified), fallback.topic)
    answer.confidence = fallback.confidence
    notes = []
    if packed.left_out:
        notes.append(instructions_notice(packed.left_out))
    if not any(c.verified for c in answer.citations):
        answer.unsupported = True
        notes.append("no citation of this answer could be verified against its passage; treat it as unsupported")
    elif untraced:
        notes.append(f"{untraced} sentence(s) could not be traced to any passage")
    answer.notice = "; ".join(notes) or None
    yield answer

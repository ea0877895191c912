"""LLM judges: faithfulness (is every claim supported by the cited passages) and correctness (does the
answer agree with the reference), from any OpenAI-compatible endpoint, with the judge's reason kept.

Prompts are versioned files (`evals/judges/faithfulness-v2.txt`); a run records each prompt's name and
hash. The endpoint is configured apart from the answering model (its own preset/URL, model and key) and
goes through kbqa's own `LLMClient`. A failing or confused judge never fails a run: the item is marked
unjudged with the reason, and after `MAX_CONSECUTIVE_FAILURES` failed calls in a row the rest of the run
is not sent to it. Agreement with the deterministic metrics says how far to trust a (small) judge.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel

from kbqa.config import Settings
from kbqa.errors import LLMError, UsageError
from kbqa.eval.metrics import JudgeVerdict, Record

MAX_CONSECUTIVE_FAILURES = 3
SCORES = {"yes": 1.0, "partly": 0.5, "no": 0.0}
_ALIASES = {"partial": "partly", "partially": "partly", "supported": "yes", "unsupported": "no", "correct": "yes", "incorrect": "no"}  # fmt: skip


class JudgeConfig(BaseModel):
    """`[judge]` of a run config."""

    llm: str  # preset (llamacpp, ollama, vllm, openai) or base URL
    model: str | None = None
    api_key_env: str | None = None  # environment variable holding the judge's key (default: the preset's)
    prompts: list[str] = ["faithfulness-v2", "correctness-v2"]
    timeout: float = 60.0
    max_retries: int = 1
    max_output_tokens: int = 160


@dataclass(frozen=True)
class Prompt:
    """A versioned judge prompt: `faithfulness-v1` → judges `faithfulness`."""

    name: str
    text: str

    @property
    def aspect(self) -> str:
        return re.sub(r"-v\d+$", "", self.name)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]


def load_prompts(folder: Path, names: list[str]) -> list[Prompt]:
    prompts = []
    for name in names:
        path = folder / f"{name}.txt"
        try:
            prompts.append(Prompt(name, path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise UsageError(f"{path}: cannot read judge prompt ({exc.strerror})") from None
        if prompts[-1].aspect not in ("faithfulness", "correctness"):
            raise UsageError(f"{path}: a judge prompt is named faithfulness-vN or correctness-vN")
    return prompts


def parse_verdict(text: str) -> tuple[str, str]:
    """(verdict in yes/partly/no, reason) from a reply that should be JSON; ValueError if there is none."""
    data: Any = None
    for m in re.finditer(r"\{.*?\}", text, re.S):
        try:
            data = json.loads(m.group())
            break
        except json.JSONDecodeError:
            continue
    if isinstance(data, dict) and isinstance(data.get("verdict"), str):
        verdict, reason = data["verdict"], str(data.get("reason", ""))
    else:
        found = re.search(r"verdict\W{0,5}(\w+)", text, re.I) or re.match(r"\W*(yes|no|partly|partial)\b", text, re.I)
        if not found:
            raise ValueError(f"no verdict in the reply: {text.strip()[:80]!r}")
        verdict, reason = found.group(1), text[found.end() :].strip(" \n\"',.:;}")
    word = verdict.strip().lower()
    word = _ALIASES.get(word, word)
    if word not in SCORES:
        raise ValueError(f"unknown verdict {verdict!r}")
    return word, reason.strip()[:500]


def passages_block(citations: list[dict[str, Any]]) -> str:
    """Cited passages as quoted data for the judge prompt."""
    if not citations:
        return "(the answer cites no passage)"
    return "\n\n".join(f"[{c.get('n')}] {c.get('title', '')}\n<<<\n{c.get('text', '')}\n>>>" for c in citations)


class Judge:
    """Asks the configured endpoint for a verdict per prompt and item."""

    def __init__(self, config: JudgeConfig, settings: Settings, prompts_dir: Path) -> None:
        from kbqa.llm.client import LLMClient, resolve

        self.config = config
        self.prompts = load_prompts(prompts_dir, config.prompts)
        judge_settings = settings.model_copy(
            update={
                "llm_model": config.model,
                "llm_base_url": None,
                "llm_api_key": _env(config.api_key_env) if config.api_key_env else None,
                "llm_timeout": config.timeout,
                "llm_max_retries": config.max_retries,
                "llm_max_output_tokens": config.max_output_tokens,
                "llm_temperature": 0.0,
            }
        )
        self.endpoint = resolve(judge_settings, config.llm)
        self.client = LLMClient(self.endpoint)
        self.failures = 0
        self.down: str | None = None  # why the judge is no longer asked
        self.model: str | None = config.model

    def describe(self) -> dict[str, Any]:
        return {
            "llm": self.config.llm,
            "base_url": self.endpoint.base_url,
            "model": self.model,
            "prompts": {p.name: p.sha256 for p in self.prompts},
        }

    def check(self) -> str | None:
        """None if the endpoint answers (and names its model); else the reason, and the judge is marked down."""
        try:
            listed = self.client.list_models()
            self.model = self.config.model or (listed[0] if listed else None)
        except LLMError as exc:
            self.down = str(exc)
        return self.down

    def judge(self, record: Record) -> dict[str, JudgeVerdict]:
        """Verdicts for the prompts that apply to this record (answered items; correctness needs a reference)."""
        out = {}
        for prompt in self.prompts:
            if record.abstained or (prompt.aspect == "correctness" and not record.answerable):
                continue
            out[prompt.aspect] = self._ask(prompt, record)
        return out

    def _ask(self, prompt: Prompt, record: Record) -> JudgeVerdict:
        if self.down:
            return JudgeVerdict(error=f"unjudged: {self.down}")
        text = Template(prompt.text).safe_substitute(
            question=_conversation(record),
            answer=record.answer.get("answer", ""),
            passages=passages_block(record.answer.get("citations", [])),
            reference=record.item.reference,
        )
        try:
            reply = self.client.complete([{"role": "user", "content": text}], self.config.max_output_tokens)
        except LLMError as exc:
            self.failures += 1
            if self.failures >= MAX_CONSECUTIVE_FAILURES:
                self.down = f"{self.failures} judge calls failed in a row, the last: {exc}"
            return JudgeVerdict(error=f"unjudged: {exc}")
        self.failures = 0
        tokens = reply.usage.get("prompt_tokens", 0), reply.usage.get("completion_tokens", 0)
        try:
            verdict, reason = parse_verdict(reply.text)
        except ValueError as exc:
            error = f"unjudged: malformed verdict ({exc})"
            return JudgeVerdict(error=error, prompt_tokens=tokens[0], completion_tokens=tokens[1])
        return JudgeVerdict(
            score=SCORES[verdict], verdict=verdict, reason=reason, prompt_tokens=tokens[0], completion_tokens=tokens[1]
        )


def _conversation(record: Record) -> str:
    turns = [f"(earlier question) {q}" for q in record.item.history]
    return "\n".join([*turns, record.item.question])


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name)


# ------------------------------------------------------------------ agreement with the deterministic metrics

# judge aspect → (deterministic per-item metric, what counts as a "yes" on it)
AGREEMENT = {"faithfulness": "citation_recall", "correctness": "answer_accuracy"}


def agreement(records: list[Record]) -> dict[str, Any]:
    """Per aspect: items judged and measured, share where judge 'yes' ⇔ metric == 1, Cohen's kappa, counts."""
    out: dict[str, Any] = {}
    for aspect, metric in AGREEMENT.items():
        pairs = []
        for r in records:
            verdict = r.judge.get(aspect)
            value = r.metrics.get(metric)
            if verdict and verdict.score is not None and value is not None:
                pairs.append((verdict.score == 1.0, value == 1.0))
        if not pairs:
            continue
        n = len(pairs)
        both = sum(j and d for j, d in pairs)
        judge_only = sum(j and not d for j, d in pairs)
        metric_only = sum(d and not j for j, d in pairs)
        neither = n - both - judge_only - metric_only
        observed = (both + neither) / n
        p_judge, p_metric = (both + judge_only) / n, (both + metric_only) / n
        expected = p_judge * p_metric + (1 - p_judge) * (1 - p_metric)
        kappa = (observed - expected) / (1 - expected) if expected < 1 else None
        out[aspect] = {
            "metric": metric,
            "n": n,
            "agreement": round(observed, 4),
            "kappa": None if kappa is None else round(kappa, 4),
            "both_yes": both,
            "judge_yes_metric_no": judge_only,
            "judge_no_metric_yes": metric_only,
            "both_no": neither,
        }
    return out


def unjudged(records: list[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        for aspect, verdict in r.judge.items():
            if verdict.score is None:
                counts[aspect] = counts.get(aspect, 0) + 1
    return counts

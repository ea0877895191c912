"""One client for any OpenAI-compatible chat endpoint: OpenAI, Ollama, vLLM, llama.cpp's server.

We use the `openai` package directly rather than llama-index's OpenAI/OpenAILike
classes: every one of these servers speaks the same chat-completions protocol,
and we need exact control over what llama-index hides — per-attempt deadlines,
which errors are retried (429, 5xx, connection, a stream cut before any token)
and which are not (401, 400, 404), and the token usage of streamed replies.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from kbqa.config import Settings
from kbqa.errors import LLMError, UsageError
from kbqa.schema import Reset

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

# name → (base URL, default model, environment variable holding the API key)
PRESETS: dict[str, tuple[str, str | None, str | None]] = {
    "openai": ("https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None, None),
    "vllm": ("http://localhost:8000/v1", None, None),
    "llamacpp": ("http://127.0.0.1:{port}/v1", None, None),
}


@dataclass
class LLMConfig:
    """A resolved endpoint: where, which model, with what limits."""

    name: str
    base_url: str
    model: str | None
    api_key: str
    timeout: float
    max_retries: int
    max_output_tokens: int
    temperature: float
    context_window: int


def resolve(settings: Settings, llm: str | None = None) -> LLMConfig:
    """`llm` is a preset name or a base URL; settings (KBQA_LLM_*) fill in the rest."""
    name = (llm or settings.llm or "").strip()
    if not name:
        raise UsageError("no LLM configured; pass --llm PRESET_OR_URL or set KBQA_LLM")
    if name in PRESETS:
        url, model, key_env = PRESETS[name]
        url = url.format(port=settings.llm_server_port)
    elif name.startswith(("http://", "https://")):
        url, model, key_env = name.rstrip("/"), None, None
    else:
        raise UsageError(f"--llm {name!r}: not a preset ({', '.join(PRESETS)}) nor an http(s) URL")
    url = settings.llm_base_url or url
    key = settings.llm_api_key or (os.environ.get(key_env) if key_env else None) or os.environ.get("OPENAI_API_KEY")
    if name == "openai" and not key:
        raise UsageError("the openai preset needs an API key: set OPENAI_API_KEY or KBQA_LLM_API_KEY")
    return LLMConfig(
        name=name,
        base_url=url,
        model=settings.llm_model or model,
        api_key=key or "not-needed",
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        max_output_tokens=settings.llm_max_output_tokens,
        temperature=settings.llm_temperature,
        context_window=settings.llm_context_window,
    )


@dataclass
class Reply:
    """The outcome of one streamed completion."""

    text: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None


class LLMClient:
    """Streams chat completions with retries, backoff and a hard deadline per request."""

    def __init__(self, config: LLMConfig) -> None:
        import httpx
        import openai

        self.config = config
        self._openai = openai
        self._transport_errors = (httpx.TransportError,)  # raised as-is while iterating a stream
        # Retries are ours (they must respect the overall deadline), so the SDK's are off.
        self._client = openai.OpenAI(base_url=config.base_url, api_key=config.api_key, max_retries=0)

    def model(self) -> str:
        """The configured model, or the first one a local server lists."""
        if self.config.model:
            return self.config.model
        models = self.list_models()
        if not models:
            raise LLMError(f"{self.config.base_url} lists no models; set KBQA_LLM_MODEL")
        self.config.model = models[0]
        return models[0]

    def list_models(self) -> list[str]:
        """The models the endpoint lists; also a cheap check that it is reachable and accepts the key."""
        try:
            return [m.id for m in self._client.models.list(timeout=min(10.0, self.config.timeout))]
        except self._openai.OpenAIError as exc:
            raise LLMError(self._describe(exc)) from None

    def stream(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[str | Reset | Reply]:
        """Yield text deltas, a `Reset` before a retry that discards them, and finally the `Reply`.

        Raises LLMError with a one-line message once retries are used up or the deadline passes.
        """
        deadline = time.monotonic() + self.config.timeout
        attempt = 0
        while True:
            sent = False
            try:
                reply = Reply(model=self.model())
                for delta in self._attempt(messages, max_tokens, deadline, reply):
                    sent = True
                    yield delta
                if not reply.text.strip():
                    raise _EmptyReply()
                yield reply
                return
            except (self._openai.OpenAIError, *self._transport_errors, _EmptyReply, _Deadline) as exc:
                retry = self._retryable(exc) and attempt < self.config.max_retries
                wait = min(8.0, 0.5 * 2**attempt) * (0.75 + 0.5 * random.random())
                if not retry or time.monotonic() + wait >= deadline:
                    cut = sent and not isinstance(exc, (_Deadline, *_timeout_types()))
                    raise LLMError(self._describe_cut() if cut else self._describe(exc)) from None
                if sent:
                    yield Reset(self._describe(exc))
                time.sleep(wait)
                attempt += 1

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Reply:
        """The whole reply at once (used for condensing follow-ups)."""
        for piece in self.stream(messages, max_tokens):
            if isinstance(piece, Reply):
                return piece
        raise LLMError("the model returned nothing")  # pragma: no cover - stream always ends with a Reply

    def _attempt(
        self, messages: list[dict[str, str]], max_tokens: int | None, deadline: float, reply: Reply
    ) -> Iterator[str]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline()
        stream = self._client.chat.completions.create(
            model=reply.model or "",
            messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=self.config.temperature,
            max_tokens=max_tokens or self.config.max_output_tokens,
            stream=True,
            stream_options={"include_usage": True},
            timeout=remaining,
        )
        try:
            for chunk in stream:
                if time.monotonic() > deadline:
                    raise _Deadline()
                usage = getattr(chunk, "usage", None)
                if usage:
                    reply.usage = {
                        "prompt_tokens": usage.prompt_tokens or 0,
                        "completion_tokens": usage.completion_tokens or 0,
                    }
                for choice in chunk.choices or []:
                    delta = getattr(choice.delta, "content", None) if choice.delta else None
                    if delta:
                        reply.text += delta
                        yield delta
        finally:
            stream.close()

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APIConnectionError, o.RateLimitError, o.InternalServerError, _EmptyReply)):
            return True  # APITimeoutError is an APIConnectionError
        if isinstance(exc, self._transport_errors):
            return not isinstance(exc, _timeout_types())
        if isinstance(exc, o.APIStatusError):
            return bool(exc.status_code >= 500 or exc.status_code == 429)
        return bool(isinstance(exc, o.APIError) and not isinstance(exc, o.APIStatusError))  # e.g. a stream cut mid-way

    def _describe_cut(self) -> str:
        return f"the LLM at {self.config.base_url} stopped mid-answer (connection lost) and retries were used up"

    def _describe(self, exc: Exception) -> str:
        o, where = self._openai, self.config.base_url
        if isinstance(exc, (_Deadline, o.APITimeoutError, *_timeout_types())):
            return f"the LLM at {where} did not finish within {self.config.timeout:.0f} s (KBQA_LLM_TIMEOUT)"
        if isinstance(exc, o.APIConnectionError):
            return f"cannot reach the LLM at {where} (is the server running? `kbqa llm-server` starts a local one)"
        if isinstance(exc, o.AuthenticationError):
            return f"the LLM at {where} rejected the API key (401); check OPENAI_API_KEY or KBQA_LLM_API_KEY"
        if isinstance(exc, o.RateLimitError):
            return f"the LLM at {where} is rate-limiting requests (429) and retries were used up"
        if isinstance(exc, o.NotFoundError):
            return f"the LLM at {where} does not know model {self.config.model!r} (404); set KBQA_LLM_MODEL"
        if isinstance(exc, o.APIStatusError):
            return f"the LLM at {where} failed with HTTP {exc.status_code}"
        if isinstance(exc, _EmptyReply):
            return f"the LLM at {where} returned an empty answer"
        return f"the LLM at {where} failed mid-answer ({type(exc).__name__})"


def _timeout_types() -> tuple[type[Exception], ...]:
    import httpx

    return (httpx.TimeoutException,)


class _EmptyReply(Exception):
    pass


class _Deadline(Exception):
    pass

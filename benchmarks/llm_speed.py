"""Speed of the local llama.cpp server: start-up, time to first token and output tokens/s on a RAG prompt.

Starts `kbqa.llm.server` on a free port (the packaged Qwen2.5-Coder 0.5B unless
--model is given), streams a ~500-token RAG-style prompt at temperature 0 through
the `openai` client, prints the figures and stops the server.

    python benchmarks/llm_speed.py [--threads 2] [--runs 3] [--max-tokens 200]

Each "cold" run changes the first words of the system prompt, so the server's
prompt cache cannot reuse earlier work (as with a new question and new passages);
the "warm" run repeats the last prompt exactly (as a retry would).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import openai

from kbqa.config import Settings
from kbqa.llm.server import free_port, start_server, stop_server

PASSAGES = [
    (
        "Enabling Social Action Programme",
        "The Department for Digital, Culture, Media and Sport is working with the universities of Sheffield and Hull "
        "on Phase 2 of the Enabling Social Action programme (March 2018 to March 2020). The programme supports local "
        "authority commissioners to co-design, co-produce and co-deliver services with local people, service users "
        "and civil society organisations, and to embed social action in their routine working. It includes action "
        "learning partnerships with six local authorities, six national events and a peer network.",
    ),
    (
        "Co-production in mental health services",
        "A two-year study in three NHS trusts compared recovery colleges run jointly by clinicians and people with "
        "lived experience against services designed by clinicians alone. Participants in co-produced courses reported "
        "greater confidence in managing their own care, and staff described a shift from treating patients to "
        "learning alongside them. The authors caution that power imbalances persisted in budget decisions, which "
        "remained with trust managers.",
    ),
    (
        "Evaluating social action",
        "Work to date suggests that social action is poorly understood and poorly defined; organisations and "
        "participants are unclear about the value of social action approaches and find it difficult to relinquish "
        "control. There are challenges in attributing outcomes to social action initiatives and in evaluating them, "
        "because benefits are often long term, diffuse and shared between several services and community groups.",
    ),
    (
        "Participatory budgeting",
        "In participatory budgeting, residents propose and vote on how part of a council budget is spent. A review of "
        "twelve English schemes found higher trust in the council among participants, but turnout was low and skewed "
        "towards older, wealthier residents unless the council ran targeted outreach in schools and community centres.",
    ),
    (
        "Citizen science and community research",
        "Community researchers recruited from four neighbourhoods in Hull collected interviews about access to green "
        "space. Training took eight weeks and researchers were paid at the local living wage. The project found that "
        "community researchers reached residents who rarely take part in surveys, but data quality varied and "
        "academic partners spent more time than planned on supervision and analysis.",
    ),
]
QUESTION = "Which universities work on the Enabling Social Action programme, and what does it aim to do?"
SYSTEM = (
    "You answer questions about co-production research using only the numbered passages below. "
    "Cite every claim with the passage number in square brackets, like [1]. "
    "If the passages do not contain the answer, say that you do not know. Answer in at most three sentences."
)


def messages(run: int) -> list[dict[str, str]]:
    """The RAG prompt; `run` changes its first words so that no earlier prompt is a cached prefix."""
    context = "\n\n".join(f"[{n}] {title}\n{text}" for n, (title, text) in enumerate(PASSAGES, 1))
    return [
        {"role": "system", "content": f"Session {run}. {SYSTEM}"},
        {"role": "user", "content": f"Passages:\n\n{context}\n\nQuestion: {QUESTION}"},
    ]


def stream_once(client: openai.OpenAI, model: str, run: int, max_tokens: int) -> dict[str, float | str]:
    """Stream one reply; return time to first token, output token count, output tokens/s and the text."""
    start = time.perf_counter()
    first = None
    pieces: list[str] = []
    stream = client.chat.completions.create(
        model=model, messages=messages(run), temperature=0, max_tokens=max_tokens, stream=True
    )
    for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        if delta:
            first = first or time.perf_counter()
            pieces.append(delta)
    end = time.perf_counter()
    first = first or end
    tokens = len(pieces)  # llama-cpp-python sends one chunk per generated token
    rate = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return {"ttft": first - start, "tokens": tokens, "rate": rate, "total": end - start, "text": "".join(pieces)}


def prompt_tokens(client: openai.OpenAI, model: str, run: int) -> int:
    """The prompt's length in tokens, as the server counts it (after the chat template)."""
    reply = client.chat.completions.create(model=model, messages=messages(run), temperature=0, max_tokens=1)
    return reply.usage.prompt_tokens if reply.usage else 0


def cpu_stall_us() -> int | None:
    """Microseconds that runnable tasks have waited for a CPU since boot (Linux PSI), to spot a busy machine."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(first.rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="cold runs (each with an uncached prompt)")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--ctx", type=int, help="context window (default: KBQA_LLM_CONTEXT_WINDOW or 4096)")
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the packaged model)")
    args = parser.parse_args(argv)

    settings = Settings().with_overrides(llm_server_threads=args.threads, llm_context_window=args.ctx)
    stalled_before = cpu_stall_us()
    t0 = time.perf_counter()
    server = start_server(settings, port=free_port(), model=args.model, wait=180)
    started = time.perf_counter() - t0
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="local", timeout=300)
        model = client.models.list().data[0].id
        cold = [stream_once(client, model, run, args.max_tokens) for run in range(1, args.runs + 1)]
        warm = stream_once(client, model, args.runs, args.max_tokens)
        n_prompt = prompt_tokens(client, model, args.runs)
    finally:
        stop_server(server)
    elapsed = time.perf_counter() - t0
    stalled = (cpu_stall_us() - stalled_before) / 1e6 / elapsed if stalled_before is not None else None

    print(f"model {model}, {args.threads} threads, context {settings.llm_context_window}")
    if stalled is not None:
        note = " (other processes competed for the cores: these figures are pessimistic)" if stalled > 0.15 else ""
        print(f"CPU contention: tasks waited for a core {stalled:.0%} of the run{note}")
    print(f"server start (incl. model check): {started:.1f} s")
    print(f"prompt: {n_prompt} tokens; temperature 0; up to {args.max_tokens} output tokens")
    for n, r in enumerate(cold, 1):
        print(f"  cold run {n}: first token {r['ttft']:.2f} s, {r['tokens']} tokens at {r['rate']:.1f} tok/s")
    print(f"  warm repeat: first token {warm['ttft']:.2f} s, {warm['tokens']} tokens at {warm['rate']:.1f} tok/s")
    ttft = statistics.median(r["ttft"] for r in cold)
    rate = statistics.median(r["rate"] for r in cold)
    print(
        f"median cold: time to first token {ttft:.2f} s (~{n_prompt / ttft:.0f} prompt tok/s), output {rate:.1f} tok/s"
    )
    print(f"answer: {' '.join(str(cold[-1]['text']).split())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

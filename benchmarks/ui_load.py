"""The web UI under load: 8 simulated users vs 1 user alone, in the same run; and `kbqa ui`'s cold start.

    python benchmarks/ui_load.py [--users 8] [--questions 8] [--seconds 240] [--json]

Builds an index of the corpus in a temporary folder (`kbqa ingest`), then starts `kbqa ui` (the
console script beside this Python) on a free port and times its cold start: until the page is
served, and until the first answer arrives through gradio_client. Each simulated user is a
gradio_client `Client` (its own session) asking the dev questions (evals/sets/dev.jsonl) as
conversations — the follow-up items replay their earlier questions first, the others start a new
conversation — `--questions` questions per user, and no new question after `--seconds`.

One user alone runs first and again after the load (the two bracket any drift of the machine's
load); then all users at once. Latency is client-side, from submitting a question to its final
answer. Checks: every answer arrives, and after every answer the user's chat holds exactly its own
questions since its last "New conversation" (none of another session's), and a follow-up was
searched with its own conversation's earlier question.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import CORPUS, REPO, emit, log, machine, machine_line, parser, percentile

DEV = REPO / "evals" / "sets" / "dev.jsonl"
FIRST = "Which universities are partners in Phase 2 of the Enabling Social Action programme?"
_SEARCHED = re.compile(r"searched as “(.*?)”", re.S)


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = 0  # questions with no answer
    mixed: list[str] = field(default_factory=list)  # answers showing another session's history
    errors: list[str] = field(default_factory=list)


def conversations() -> list[list[str]]:
    """The dev set as conversations: a follow-up item is its history then its question."""
    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [[*item["history"], item["question"]] for item in items]


def workload(user: int, questions: int, convs: list[list[str]]) -> list[list[str]]:
    """User `user`'s conversations, `questions` questions in all; users start at different places."""
    follow_ups = [c for c in convs if len(c) > 1]
    singles = [c for c in convs if len(c) == 1]
    order = [c for pair in zip(follow_ups, singles) for c in pair] + singles[len(follow_ups) :]
    out, count, i = [], 0, user * 3
    while count < questions:
        conv = order[i % len(order)][: questions - count]
        out.append(conv)
        count += len(conv)
        i += 1
    return out


def ask(client: Any, question: str) -> tuple[list[dict], float]:
    started = time.perf_counter()
    job = client.submit(question=question, api_name="/ask")
    for _ in job:
        pass
    chat = job.result()[0]
    return chat, (time.perf_counter() - started) * 1000


def text_of(message: dict) -> str:
    content = message["content"]
    parts = content if isinstance(content, list) else [{"text": content}]
    return html.unescape("".join(re.sub(r"<[^>]+>", "", p.get("text", "")) for p in parts))


def run_user(url: str, convs: list[list[str]], stats: Stats, deadline: float, lock: threading.Lock) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    try:
        for conv in convs:
            client.predict(api_name="/new_conversation")
            asked: list[str] = []
            for question in conv:
                if time.monotonic() > deadline:
                    return
                chat, ms = ask(client, question)
                asked.append(question)
                _check(chat, asked, ms, stats, lock)
    except Exception as exc:  # a benchmark reports failures instead of dying on the first one
        with lock:
            stats.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        client.close()


def _check(chat: list[dict], asked: list[str], ms: float, stats: Stats, lock: threading.Lock) -> None:
    shown = [text_of(m).strip() for m in chat if m["role"] == "user"]
    answer = text_of(chat[-1]) if chat and chat[-1]["role"] == "assistant" else ""
    problem = None
    if shown != [" ".join(q.split()) for q in asked]:
        problem = f"chat shows {shown} after asking {asked}"
    elif len(asked) > 1 and (m := _SEARCHED.search(answer)) and asked[-2].rstrip("?.")[:40] not in m.group(1):
        problem = f"follow-up {asked[-1]!r} searched as {m.group(1)!r}, not with {asked[-2]!r}"
    with lock:
        if not answer.strip() or "Searching the knowledge base" in answer:
            stats.missing += 1
        else:
            stats.latencies_ms.append(ms)
        if problem:
            stats.mixed.append(problem)


def phase(url: str, users: int, questions: int, seconds: float) -> tuple[Stats, float]:
    convs = conversations()
    stats, lock = Stats(), threading.Lock()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=run_user, args=(url, workload(u, questions, convs), stats, deadline, lock))
        for u in range(users)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or sys.exit(f"`{name}` is not installed"))


def start_ui(env: dict[str, str], port: int, log_file: Path) -> tuple[subprocess.Popen, float]:
    """Start `kbqa ui`; returns the process and the seconds until it served its page."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [script("kbqa"), "ui", "--port", str(port)], env=env, stdout=log_file.open("w"), stderr=subprocess.STDOUT
    )
    while True:
        if proc.poll() is not None:
            sys.exit(f"kbqa ui exited: {log_file.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)


def summary(stats: Stats, wall: float) -> dict[str, Any]:
    lat = stats.latencies_ms
    return {
        "answers": len(lat),
        "missing": stats.missing,
        "mixed": len(stats.mixed),
        "errors": len(stats.errors),
        "p50_ms": round(percentile(lat, 50), 1) if lat else None,
        "p95_ms": round(percentile(lat, 95), 1) if lat else None,
        "answers_per_s": round(len(lat) / wall, 2) if wall else None,
        "examples": (stats.mixed + stats.errors)[:3],
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--questions", type=int, default=8, help="questions per user")
    p.add_argument("--seconds", type=float, default=240, help="no new question after this long, per phase")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kbqa-ui-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBQA_") or k == "KBQA_MODEL_CACHE_DIR"}
    env.update({"KBQA_DATA_DIR": str(tmp / "data"), "KBQA_CORPUS_DIR": str(CORPUS)})
    proc = None
    try:
        log("building the index (kbqa ingest)")
        subprocess.run([script("kbqa"), "ingest"], env=env, check=True, capture_output=True)
        port = free_port()
        log("starting kbqa ui")
        proc, up_s = start_ui(env, port, tmp / "ui.log")
        url = f"http://127.0.0.1:{port}"
        from gradio_client import Client

        client = Client(url, verbose=False)
        _, first_ms = ask(client, FIRST)
        cold = {"served_s": round(up_s, 2), "first_answer_s": round(up_s + first_ms / 1000, 2)}
        client.close()
        log(f"cold start: page after {up_s:.1f} s, first answer {first_ms / 1000:.1f} s later")
        runs = {}
        for name, users in (("alone_before", 1), ("load", args.users), ("alone_after", 1)):
            log(f"{name}: {users} user(s), {args.questions} questions each")
            stats, wall = phase(url, users, args.questions, args.seconds)
            runs[name] = summary(stats, wall)
            runs[name]["_latencies"] = stats.latencies_ms
        report(args, cold, runs)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def report(args: Any, cold: dict[str, float], runs: dict[str, dict[str, Any]]) -> None:
    alone = runs["alone_before"].pop("_latencies") + runs["alone_after"].pop("_latencies")
    load = runs["load"].pop("_latencies")
    one = {"p50_ms": round(percentile(alone, 50), 1), "p95_ms": round(percentile(alone, 95), 1), "answers": len(alone)}
    ratio = {
        "p50": round(runs["load"]["p50_ms"] / one["p50_ms"], 2) if load else None,
        "p95": round(runs["load"]["p95_ms"] / one["p95_ms"], 2) if load else None,
    }
    asked = args.users * args.questions
    bad = runs["load"]["missing"] + runs["load"]["mixed"] + runs["load"]["errors"]
    result = {"users": args.users, "cold_start": cold, "one_user": one, "runs": runs, "ratio_load_vs_alone": ratio}
    result["machine"] = machine()
    lines = [
        f"kbqa ui under load: {args.users} users vs 1 user alone, same run (extractive answers, dev questions)",
        f"  cold start       page served {cold['served_s']:.1f} s after `kbqa ui`; first answer at {cold['first_answer_s']:.1f} s",
        f"  1 user alone     {one['answers']} answers (runs before and after the load): p50 {one['p50_ms']:.0f} ms, "
        f"p95 {one['p95_ms']:.0f} ms",
        f"  {args.users} users at once  {runs['load']['answers']} of {asked} answers: p50 {runs['load']['p50_ms']:.0f} ms, "
        f"p95 {runs['load']['p95_ms']:.0f} ms, {runs['load']['answers_per_s']} answers/s",
        f"  load / alone     p50 {ratio['p50']}×, p95 {ratio['p95']}×",
        f"  checks           {runs['load']['missing']} answers missing, {runs['load']['mixed']} showing another "
        f"session's history, {runs['load']['errors']} errors" + ("" if not bad else f": {runs['load']['examples']}"),
        machine_line(),
    ]
    emit(args, result, lines)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()

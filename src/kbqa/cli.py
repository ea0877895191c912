"""The `kbqa` command line: ingest, ask, chat, sources, eval, ui, feedback, llm-server.

Heavy libraries are imported inside the commands, so `kbqa --help` and the
start-up of `kbqa ask` stay fast. Every error is one line on stderr and a
non-zero exit status; set KBQA_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbqa.answer import ANSWERERS  # names only: the answerers themselves are imported on first use

if TYPE_CHECKING:
    from kbqa.api import AnswerStream, KnowledgeBase
    from kbqa.config import Settings
    from kbqa.ingestion.pipeline import Progress
    from kbqa.schema import Answer

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return _run(args)
    except KeyboardInterrupt:  # also while starting up (parsing, importing): Ctrl-C is never a traceback
        return _interrupted()


def _interrupted() -> int:
    _error("interrupted; the index stays usable with every file indexed so far (`kbqa ingest` finishes the rest)")
    return EXIT_INTERRUPTED


def _caused_by_ctrl_c(exc: BaseException) -> bool:
    """Whether Ctrl-C is behind `exc`: one during an extension module's import surfaces as
    "ImportError: initialization failed" with the KeyboardInterrupt as its context."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _run(args: argparse.Namespace) -> int:
    """Run the chosen command; every error is one line and an exit status."""
    from kbqa.config import offline
    from kbqa.errors import KBQAError, UsageError

    offline()
    try:
        return args.func(args) or 0
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KBQAError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, unless debugging
        if _caused_by_ctrl_c(exc):
            return _interrupted()
        if os.environ.get("KBQA_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); set KBQA_DEBUG=1 for a traceback")
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kbqa", description="Cited answers from the co-production research knowledge base (offline by default)."
    )
    parser.add_argument("--data-dir", type=Path, help="index folder (default .kbqa, or KBQA_DATA_DIR)")
    parser.add_argument("--corpus-dir", type=Path, help="corpus folder (default corpus, or KBQA_CORPUS_DIR)")
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("ingest", help="index the corpus folder or the given files/folders (incremental)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus folder)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    _answer_options(p)
    p.add_argument("--full", action="store_true", help="print cited passages in full")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="multi-turn conversation (with --json: one question per stdin line)")
    _answer_options(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "compact", help="rewrite the index so that text of removed files is gone from disk (Chroma keeps a log)"
    )
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("sources", help="list indexed files with their entry and chunk counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    _eval_parser(sub)

    p = sub.add_parser("ui", help="serve the web app (chat with cited answers, sources, uploads, feedback)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1, or KBQA_UI_HOST)")
    p.add_argument("--port", type=int, help="port (default 7860, or KBQA_UI_PORT)")
    p.add_argument("--auth", metavar="USER:PASS", help="require this login (or KBQA_UI_AUTH; several: u1:p1,u2:p2)")
    p.add_argument(
        "--share", action="store_true", help="also open a public gradio.live link (sends traffic off this machine)"
    )
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("feedback", help="feedback given in the web UI")
    fsub = p.add_subparsers(metavar="ACTION")
    e = fsub.add_parser(
        "export", help="write rated answers as eval question-set items (JSON lines), to check and add to a set"
    )
    e.add_argument("--only", choices=["up", "down"], help="only thumbs-up or only thumbs-down answers")
    e.add_argument("--out", type=Path, help="write to this file instead of standard output")
    e.set_defaults(func=cmd_feedback_export)
    p.set_defaults(func=lambda args: _usage("kbqa feedback: give an action, e.g. kbqa feedback export --only down"))

    p = sub.add_parser("llm-server", help="run llama.cpp's OpenAI-compatible server with a packaged local model")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default 8081, or KBQA_LLM_SERVER_PORT)")
    p.add_argument("--model", type=Path, help="a GGUF file (default: the packaged Qwen2.5-Coder 0.5B Instruct)")
    p.set_defaults(func=cmd_llm_server)
    return parser


def _eval_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`kbqa eval run|validate|compare|export|add|report` (evals/README.md)."""
    from kbqa.eval.cli import add_commands

    add_commands(sub)


def _answer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object (see README)")
    p.add_argument("--k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--where", action="append", metavar="FIELD=VALUE", help="filter: source, keyword, contributor, year")
    p.add_argument("--llm", help="LLM preset (openai, ollama, vllm, llamacpp) or base URL; default: extractive")
    p.add_argument("--answerer", choices=list(ANSWERERS), help="force one answerer (default: chosen per question)")


# ------------------------------------------------------------------ commands


def cmd_ingest(args: argparse.Namespace) -> int:
    kb = _kb(args)
    with _progress(kb.settings.progress_interval) as progress:
        report = kb.ingest(args.paths or None, progress=progress)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    kb = _kb(args)
    options = _options(kb, args)
    _ensure_index(kb)
    if args.json:
        print(json.dumps(kb.ask(args.question, **options).to_json(), ensure_ascii=False))
        return 0
    answer = _print_stream(kb.ask_stream(args.question, **options))
    _print_citations(answer, full=args.full)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from kbqa.errors import KBQAError

    kb = _kb(args)
    options = _options(kb, args)
    _ensure_index(kb)
    chat = kb.conversation()
    interactive = not args.json and sys.stdin.isatty()
    if interactive:
        print("Ask about co-production research; an empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        question = line.strip()
        if not question:
            if interactive:
                break
            continue
        try:
            if args.json:
                print(json.dumps(chat.ask(question, **options).to_json(), ensure_ascii=False), flush=True)
            else:
                _print_citations(_print_stream(chat.ask_stream(question, **options)), full=False)
        except KBQAError as exc:  # a bad question, or the Chroma server went away: the chat goes on
            _error(str(exc))
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    done = _kb(args).compact()
    if done["bytes_before"] is not None:
        size = f"; database {done['bytes_before'] / 1e6:.1f} MB → {done['bytes_after'] / 1e6:.1f} MB"
    else:
        size = "; on a Chroma server, run `chroma vacuum --path DIR` where the server keeps its data to shrink it"
    print(f"compacted: {done['chunks']} live chunks copied to a fresh collection, the old one dropped{size}")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    rows = _kb(args).sources()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("The index is empty; run `kbqa ingest`.")
        return 0
    width = max(len(r.source) for r in rows)
    for r in rows:
        print(f"{r.source:<{width}}  {r.entries:>3} entries  {r.chunks:>4} chunks  {r.title[:60]}")
    print(f"{len(rows)} files, {sum(r.chunks for r in rows)} chunks")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from kbqa.errors import UsageError

    settings = _settings(args).with_overrides(ui_host=args.host, ui_port=args.port, ui_auth=args.auth)
    if not 0 < settings.ui_port < 65536:
        raise UsageError(f"--port {settings.ui_port}: must be between 1 and 65535")
    from kbqa_ui.auth import parse_auth

    parse_auth(settings.ui_auth)  # a malformed --auth fails before anything starts
    from kbqa_ui.app import serve  # imports gradio (~3 s): only this command pays for it

    code: int = serve(settings, share=args.share)
    return code


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from kbqa.feedback import FeedbackStore, to_eval_item

    settings = _settings(args)
    items = [to_eval_item(fb) for fb in FeedbackStore(settings.data_dir).all(only=args.only)]
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
        print(f"{len(items)} item(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
        if not items:
            print("no feedback recorded yet", file=sys.stderr)
    return 0


def _usage(message: str) -> int:
    from kbqa.errors import UsageError

    raise UsageError(message)


def cmd_llm_server(args: argparse.Namespace) -> int:
    from kbqa.llm.server import serve

    settings = _settings(args)
    return serve(settings, port=args.port, model=args.model)


# ------------------------------------------------------------------ helpers


def _settings(args: argparse.Namespace) -> Settings:
    from kbqa.config import Settings

    return Settings().with_overrides(data_dir=args.data_dir, corpus_dir=args.corpus_dir)


def _kb(args: argparse.Namespace) -> KnowledgeBase:
    from kbqa.api import KnowledgeBase

    return KnowledgeBase(_settings(args))


def _options(kb: KnowledgeBase, args: argparse.Namespace) -> dict[str, Any]:
    """The answering options of `ask`/`chat`, validated before any question (a bad one is a usage error)."""
    k, filters, _ = kb.check_options(k=args.k, filters=args.where)
    return {"k": k, "filters": filters, "llm": args.llm, "answerer": args.answerer}


def _ensure_index(kb: KnowledgeBase) -> None:
    if kb.is_empty():
        print(f"No index yet: building it from {kb.settings.corpus_dir}/ (first run only)…", file=sys.stderr)
        with _progress(kb.settings.progress_interval) as progress:
            report = kb.ensure_index(progress=progress)
        if report is not None:
            print(report.summary(), file=sys.stderr)
    elif outdated := kb.outdated():
        print(f"warning: {outdated}", file=sys.stderr)


def _print_stream(stream: AnswerStream) -> Answer:
    """Print the answer as it arrives (an interrupted stream is marked); return the final Answer."""
    from kbqa.schema import Reset, TextDelta

    streamed = ""
    for event in stream:
        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
            streamed += event.text
        elif isinstance(event, Reset):
            if streamed:
                sys.stdout.write("\n")
            print(f"[interrupted: {event.reason}]", file=sys.stderr)
            streamed = ""
    final = stream.answer
    if final.answer.strip() != streamed.strip():  # markers added after the stream, a fallback, or no stream
        sys.stdout.write(("\n\nWith citations: " if streamed else "") + final.answer)
    sys.stdout.write("\n")
    if final.notice:
        print(f"note: {final.notice}", file=sys.stderr)
    return final


def _print_citations(answer: Answer, full: bool) -> None:
    if answer.abstained or not answer.citations:
        return
    print()
    for c in answer.citations:
        check = "" if c.verified is None else ("  ✓ verified" if c.verified else "  ✗ not supported by this passage")
        print(f"[{c.n}] {c.title} — {c.source} (score {c.score:.2f}){check}")
        text = " ".join(c.text.split())
        if not full and len(text) > 400:
            text = text[:400].rsplit(" ", 1)[0] + " …"
        print(f"    {text}")


class _progress:
    """Ingest progress on stderr: rich bars on a terminal; otherwise (a log, CI, a pipe) one plain line
    every `interval` seconds, so a long ingest is visibly alive. Warnings are one line each, never wrapped."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def __enter__(self) -> Progress:
        import time

        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        from kbqa.ingestion.pipeline import Progress

        console = Console(stderr=True)
        terminal = console.is_terminal
        bar = RichProgress(
            TextColumn("{task.description:>10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not terminal,
            transient=True,
        )
        self._bar = bar
        started = time.monotonic()
        counts = {"files": 0, "files_total": 0, "chunks": 0, "chunks_total": 0, "last": started}

        def line(message: str) -> None:
            if terminal:
                bar.console.print(message, markup=False, highlight=False, soft_wrap=True)
            else:  # one write: a Ctrl-C between the text and its newline would glue the error line onto it
                sys.stderr.write(message + "\n")
                sys.stderr.flush()

        def tick(force: bool = False) -> None:
            now = time.monotonic()
            if terminal or not (force or now - counts["last"] >= self.interval):
                return
            counts["last"] = now
            done, total = counts["chunks"], counts["chunks_total"]
            share = f" ({100 * done / total:.0f}%)" if total else ""
            line(
                f"indexing: {counts['files']}/{counts['files_total']} files, "
                f"{done}/{total} chunks embedded{share}, {now - started:.0f} s"
            )

        class _Bars(Progress):
            def start(self, files: int) -> None:
                counts["files_total"] = files
                self._files = bar.add_task("files", total=files)
                self._chunks: TaskID | None = None

            def embedding(self, chunks: int) -> None:
                counts["chunks_total"] += chunks
                if self._chunks is None:
                    self._chunks = bar.add_task("embedding", total=chunks)
                else:
                    bar.update(self._chunks, total=counts["chunks_total"])

            def embedded(self, chunks: int) -> None:
                counts["chunks"] += chunks
                if self._chunks is not None:
                    bar.advance(self._chunks, chunks)
                tick()

            def file_done(self, name: str) -> None:
                counts["files"] += 1
                bar.advance(self._files, 1)
                tick()

            def warn(self, message: str) -> None:
                line(f"warning: {message}")

            def notice(self, message: str) -> None:
                line(f"note: {message}")

            def waiting(self) -> None:
                line("another kbqa process is indexing this data folder; waiting for it to finish…")

        self._bars = _Bars()
        bar.__enter__()
        return self._bars

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

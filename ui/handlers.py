"""What the web UI's events do, on the public kbqa API only (no retrieval or answering here).

`Handlers` holds what the server shares between users — the `KnowledgeBase` (thread-safe), the
feedback store, the index status — and each event gets the user's own `Session` from a gr.State.
Gradio-specific return values (component updates) are built in ui/app.py; the methods here
return plain values so they can be tested without a browser.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kbqa
from kbqa import Answer, Filters, KnowledgeBase
from kbqa.errors import KBQAError, UsageError
from kbqa.feedback import FeedbackStore

from . import render, uploads
from .export import conversation_markdown
from .indexing import IndexStatus, IngestProgress
from .session import AskOptions, Session, Turn

EXTRACTIVE = "extractive"
WAIT_POLL_S = 0.5


@dataclass
class ChatUpdate:
    """One step of an answer being shown: the chat messages, and (when final) the panel and export file."""

    messages: list[dict[str, Any]]
    panel: str | None = None
    export: str | None = None
    done: bool = False


@dataclass
class _Shown:
    """What an answer being streamed shows so far."""

    text: str = ""
    note: str | None = None


@dataclass
class Choices:
    """Filter choices from the index's metadata."""

    sources: list[str]
    keywords: list[str]
    contributors: list[str]
    year_min: int | None
    year_max: int | None


class Handlers:
    """The UI's behaviour, shared by all sessions."""

    def __init__(self, kb: KnowledgeBase, status: IndexStatus | None = None, exports: Path | None = None) -> None:
        self.kb = kb
        self.settings = kb.settings
        self.status = status
        self.feedback = FeedbackStore(Path(self.settings.data_dir))
        self.exports = exports or Path(tempfile.mkdtemp(prefix="kbqa-ui-exports-"))

    # ------------------------------------------------------------ sessions

    def new_session(self) -> Session:
        return Session(self.kb.conversation())

    def session(self, session: Session | None) -> Session:
        return session if session is not None else self.new_session()

    # ------------------------------------------------------------ asking

    def mode_choices(self) -> list[tuple[str, str]]:
        """Answer modes: extractive, then the LLM presets/URLs the settings name."""
        llms = [self.settings.llm] if self.settings.llm else []
        llms += [c for c in self.settings.ui_llm_choices if c not in llms]
        return [("Extractive: quotes the passages (no LLM)", EXTRACTIVE)] + [(f"LLM: {name}", name) for name in llms]

    def options(
        self,
        mode: str | None,
        k: float | None,
        threshold: float | None,
        source: str | None,
        keyword: str | None,
        contributor: str | None,
        year_from: str | float | None,
        year_to: str | float | None,
    ) -> AskOptions:
        """The form's values as ask options; UsageError names a bad field."""
        known = {value for _, value in self.mode_choices()}
        if mode not in (None, "", EXTRACTIVE) and mode not in known:
            raise UsageError(f"answer mode {mode!r}: choose one of {', '.join(sorted(known))}")
        llm = None if mode in (None, "", EXTRACTIVE) else mode
        filters = Filters(
            source=source or None,
            keyword=keyword or None,
            contributor=contributor or None,
            year_from=_year(year_from, "from year"),
            year_to=_year(year_to, "to year"),
        )
        if filters.year_from and filters.year_to and filters.year_from > filters.year_to:
            raise UsageError(f"years {filters.year_from}–{filters.year_to}: the first year is after the last")
        kk = int(k) if k is not None else None
        thr = float(threshold) if threshold is not None else None
        self.kb.check_options(k=kk, filters=filters, abstain_threshold=thr)  # the engine's own checks
        return AskOptions(llm=llm, k=kk, abstain_threshold=thr, filters=filters)

    def ask(self, question: str, session: Session, options: AskOptions) -> Iterator[ChatUpdate]:
        """Stream the answer to `question` into the session's chat; the final update adds the panel and export."""
        question = " ".join((question or "").split())
        if not question:
            return
        messages = [*session.messages, _msg("user", render.question_html(question))]
        yield ChatUpdate([*messages, _msg("assistant", render.partial_html("", "Searching the knowledge base…"))])
        yield from self._wait_for_index(messages)
        problem = self.status.describe() if self.status is not None and self.status.error else None
        if problem is None and not self.kb.sources():
            problem = "The knowledge base is empty: add documents in the Documents tab."
        if problem:
            session.messages = [*messages, _msg("assistant", render.error_html(problem))]
            yield ChatUpdate(session.messages, done=True)
            return
        turn, started, shown = len(session.turns), time.perf_counter(), _Shown()
        try:
            answer = yield from self._stream(session, question, options, messages, shown)
        except KBQAError as exc:
            session.messages = [*messages, _msg("assistant", render.error_html(str(exc)))]
            yield ChatUpdate(session.messages, done=True)
            return
        except GeneratorExit:  # the user pressed stop or left: keep what was shown, marked
            session.messages = [*messages, _msg("assistant", render.partial_html(shown.text, "Stopped."))]
            raise
        seconds = time.perf_counter() - started
        session.turns.append(Turn(question, answer, options, seconds))
        session.messages = [*messages, _msg("assistant", render.answer_html(answer, turn, seconds))]
        session.message_turn[len(session.messages) - 1] = turn
        yield ChatUpdate(session.messages, self.panel(session, turn), self.export(session), done=True)

    def _stream(
        self, session: Session, question: str, options: AskOptions, messages: list[dict[str, Any]], shown: _Shown
    ) -> Generator[ChatUpdate, None, Answer]:
        """The answer's events as chat updates (text so far, or a retry note); returns the final Answer."""
        stream = session.conversation.ask_stream(
            question, k=options.k, filters=options.filters, llm=options.llm, abstain_threshold=options.abstain_threshold
        )
        for event in stream:  # read to the end: the conversation records the turn when the stream completes
            if isinstance(event, kbqa.Final):
                continue
            if isinstance(event, kbqa.TextDelta):
                shown.text += event.text
            elif isinstance(event, kbqa.Reset):
                shown.text, shown.note = "", f"The LLM's answer was interrupted ({event.reason}); trying again…"
            yield ChatUpdate([*messages, _msg("assistant", render.partial_html(shown.text, shown.note))])
        return stream.answer

    def _wait_for_index(self, messages: list[dict[str, Any]]) -> Iterator[ChatUpdate]:
        """While the first build runs, show its progress in place of the answer."""
        while self.status is not None and not self.status.ready.wait(WAIT_POLL_S):
            yield ChatUpdate([*messages, _msg("assistant", render.partial_html("", self.status.describe()))])

    # ------------------------------------------------------------ the source panel

    def panel(self, session: Session, turn: int, selected: int | None = None) -> str:
        """The cards of answer `turn`, with citation `selected` open."""
        t = session.turn(turn)
        if t is None:
            return render.EMPTY_PANEL
        cards = [render.CardData(c, self._entry(c.entry_id)) for c in t.answer.citations]
        return render.panel_html(turn, t.question, cards, selected)

    def show_source(self, session: Session, turn: int, n: int) -> str:
        return self.panel(session, int(turn), int(n))

    def open_entry(self, session: Session, turn: int, n: int) -> str:
        """The whole entry a citation comes from, the cited passage highlighted in it."""
        t = session.turn(int(turn))
        citation = next((c for c in t.answer.citations if c.n == int(n)), None) if t else None
        if t is None or citation is None or not citation.entry_id:
            return self.panel(session, int(turn), int(n))
        try:
            found = self.kb.entry(citation.entry_id)
        except UsageError:  # removed from the index since the answer was given
            return render.panel_html(int(turn), t.question, [], None) + (
                f"<p class='kbqa-notice'>The entry of [{int(n)}] is no longer in the index.</p>"
            )
        return render.entry_html(found.entry, found.text, citation, int(turn))

    def _entry(self, entry_id: str | None) -> kbqa.Entry | None:
        if not entry_id:
            return None
        try:
            return self.kb.entry(entry_id).entry
        except UsageError:  # the source was removed after the answer was given: the card shows the passage
            return None

    # ------------------------------------------------------------ feedback and export

    def rate(self, session: Session, turn: int, rating: str, comment: str | None = None) -> str:
        """Store a rating (and comment) for answer `turn`; returns a one-line confirmation."""
        t = session.turn(int(turn))
        if t is None:
            raise UsageError(f"answer {int(turn) + 1}: there is no such answer in this conversation")
        self.feedback.rate(
            session=session.id,
            turn=int(turn),
            rating=rating,
            question=t.question,
            history=session.questions_before(int(turn)),
            answer=t.answer,
            options=t.options.describe(),
            comment=comment,
        )
        session.rated[int(turn)] = rating
        verdict = "helpful" if rating == "up" else "not helpful"
        extra = ", with your comment" if comment else ""
        return f"Feedback on answer {int(turn) + 1} recorded ({verdict}{extra}). Thank you."

    def unrate(self, session: Session, turn: int) -> None:
        self.feedback.unrate(session.id, int(turn))
        session.rated.pop(int(turn), None)

    def forget(self, session: Session | None) -> None:
        """A session ended (its tab was closed): delete its export file."""
        if session is not None:
            shutil.rmtree(self.exports / session.id, ignore_errors=True)

    def export(self, session: Session) -> str | None:
        """The conversation as a Markdown file (rewritten after each answer), for the download button."""
        if not session.turns:
            return None
        path = self.exports / session.id / "kbqa-conversation.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(conversation_markdown(session.turns), encoding="utf-8")
        return str(path)

    # ------------------------------------------------------------ documents

    def choices(self) -> Choices:
        f = self.kb.facets()
        return Choices(list(f.sources), list(f.keywords), list(f.contributors), f.year_min, f.year_max)

    def source_rows(self) -> list[render.SourceRow]:
        """The indexed files, for the Documents tab."""
        return [
            render.SourceRow(
                s.source, s.title, s.entries, s.chunks, uploads.is_upload(s.path, self.settings), s.ingested_at
            )
            for s in self.kb.sources()
        ]

    def add_documents(
        self, files: list[tuple[str, str]], progress: IngestProgress | None = None
    ) -> uploads.UploadReport:
        """Check, store and index uploaded files given as (temporary path, name from the browser)."""
        report = uploads.UploadReport()
        if len(files) > self.settings.upload_max_files:
            report.summary = (
                f"{len(files)} files: at most {self.settings.upload_max_files} per upload (KBQA_UPLOAD_MAX_FILES)"
            )
            return report
        folder = uploads.upload_dir(self.settings)
        stored: dict[str, Path] = {}
        for temporary, original in files:
            try:
                name = uploads.safe_name(original)
                if name in stored:
                    raise uploads.UploadError(name, "uploaded twice in this batch")
                uploads.check_file(Path(temporary), name, self.settings)
                stored[name] = uploads.store(Path(temporary), name, folder)
            except uploads.UploadError as exc:
                report.files.append(uploads.FileResult(str(original), False, exc.reason))
        if not stored:
            report.summary = "Nothing was indexed."
            return report
        before = {s.source: s.path for s in self.kb.sources()}
        try:
            ingest = self.kb.ingest(list(stored.values()), progress=progress, wait=True)
        except KBQAError as exc:
            report.summary = f"Indexing failed: {exc}"
            report.files += [uploads.FileResult(n, False, "not indexed") for n in stored]
            return report
        indexed = {s.source: s for s in self.kb.sources()}
        for name, path in stored.items():
            problem = next((w for w in ingest.warnings if w.startswith(str(path))), None)
            info = indexed.get(name)
            if problem is None and info is not None and Path(info.path).resolve() == path:
                report.files.append(
                    uploads.FileResult(name, True, f"{_count(info.chunks, 'passage')}, {_count(info.entries, 'entry')}")
                )
                continue
            reason = problem[len(str(path)) :].lstrip(": ") if problem else "not indexed"
            report.files.append(uploads.FileResult(name, False, reason))
            if name not in before or Path(before[name]).resolve() != path:
                path.unlink(missing_ok=True)  # refused by the indexer: keep no orphan copy
        report.summary = ingest.summary()
        return report

    def remove(self, source: str | None) -> str:
        """Remove one indexed file (and the stored copy of an uploaded one); a one-line result."""
        if not source:
            raise UsageError("choose a file to remove")
        info = next((s for s in self.kb.sources() if s.source == source), None)
        report = self.kb.remove(source)
        passages = _count(report.chunks_removed, "passage")
        if info is not None and uploads.is_upload(info.path, self.settings):
            Path(info.path).unlink(missing_ok=True)
            return f"Removed {source}: {passages} left the index, and the uploaded copy was deleted."
        return (
            f"Removed {source} from the index ({passages}). The file is still in the corpus folder: "
            "the next `kbqa ingest` adds it back."
        )


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _msg(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "content": content}


def _year(value: str | float | None, field: str) -> int | None:
    """A year from the form ("" or None: no limit)."""
    if value is None or str(value).strip() == "":
        return None
    try:
        year = int(float(value))
    except ValueError:
        raise UsageError(f"{field} {value!r}: not a year") from None
    if not 1000 <= year <= 2999:
        raise UsageError(f"{field} {value!r}: not a year")
    return year

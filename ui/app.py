"""The kbqa web app (Gradio Blocks): streamed cited answers, a source panel, filters, documents, feedback.

Start it with `kbqa ui`. One `KnowledgeBase` serves every browser session; each session keeps its own
conversation in a gr.State. Layout and event wiring live here; what the events do is in
ui/handlers.py, the HTML in ui/render.py.
"""

from __future__ import annotations

import os

from kbqa.config import offline

offline()  # no network for the libraries kbqa uses (the CLI has done it already; `import kbqa_ui.app` alone has not)
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported, even if set otherwise: it calls home

import shutil  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

import kbqa  # noqa: E402
from kbqa.config import Settings  # noqa: E402
from kbqa.errors import KBQAError, UsageError  # noqa: E402

from . import quality, render  # noqa: E402
from .auth import parse_auth  # noqa: E402
from .handlers import EXTRACTIVE, Handlers  # noqa: E402
from .indexing import IndexStatus, IngestProgress  # noqa: E402
from .session import Session, filter_dict  # noqa: E402

STATIC = Path(__file__).parent / "static"
TITLE = "kbqa: co-production research, with sources"
PLACEHOLDER = (
    "**Ask about co-production research** in plain words.\n\n"
    "Every sentence of an answer cites the passage it comes from as [1], [2] …; click a number to read the "
    "passage, with the sentence highlighted, beside the chat."
)
# Choices filled from the index after the page loads: Gradio checks values against the choices it was built with,
# so these accept any value (removing an unknown file is a UsageError; a filter value nothing has matches nothing).
_open: dict[str, Any] = {"allow_custom_value": True}
QUEUE_MAX = 64  # events waiting at once, across users; more are refused with "queue full" rather than piling up


@dataclass
class _Parts:
    """The components events are wired to."""

    c: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.c[name]
        except KeyError:
            raise AttributeError(name) from None


def build(handlers: Handlers) -> gr.Blocks:
    """The app's layout and events."""
    demo: gr.Blocks
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True) as demo:
        p = _Parts()
        p.c["session"] = gr.State(None, delete_callback=handlers.forget)  # tab closed: its export file goes
        gr.HTML(
            "<h1>kbqa</h1><p>cited answers from the co-production research knowledge base</p>",
            elem_id="kbqa-header",
        )
        p.c["status"] = gr.HTML(label="Index status", elem_id="kbqa-status-line", visible=False)
        p.c["timer"] = gr.Timer(1.0, active=False)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=340):
                    _chat_column(p, handlers)
                with gr.Column(scale=2, min_width=300):
                    p.c["panel"] = gr.HTML(
                        render.EMPTY_PANEL,
                        label="Sources",
                        js_on_load=(STATIC / "panel.js").read_text(encoding="utf-8"),
                        elem_id="kbqa-sources",
                        padding=True,
                    )
            with gr.Tab("Documents", id="documents"):
                _documents_tab(p, handlers.settings)
            with gr.Tab("Quality", id="quality") as quality_tab:
                _quality_tab(p)
            p.c["quality_tab"] = quality_tab
        # hidden inputs of the API endpoints that the page reaches through the panel's script
        p.c["api_turn"] = gr.Number(visible=False, precision=0)
        p.c["api_n"] = gr.Number(visible=False, precision=0)
        p.c["show_btn"] = gr.Button(visible=False)
        p.c["entry_btn"] = gr.Button(visible=False)
        _wire(p, _Events(handlers), demo, handlers.settings)
    return demo


def _chat_column(p: _Parts, handlers: Handlers) -> None:
    settings = handlers.settings
    p.c["chat"] = gr.Chatbot(
        label="Conversation",
        show_label=False,
        elem_id="kbqa-chat",
        height=540,
        layout="panel",
        latex_delimiters=[],
        placeholder=PLACEHOLDER,
        examples=[{"text": q} for q in settings.ui_examples],
        feedback_options=("Like", "Dislike"),
        buttons=["copy"],
    )
    p.c["question"] = gr.Textbox(
        show_label=False,
        placeholder="Ask a question and press Enter…",
        elem_id="kbqa-question",
        lines=1,
        max_lines=6,
        submit_btn=True,
        stop_btn=True,
        autofocus=True,
    )
    p.c["active"] = gr.HTML(label="Active filters", elem_id="kbqa-active-filters")
    with gr.Row():
        p.c["new_btn"] = gr.Button("New conversation", size="sm", elem_id="kbqa-new")
        p.c["export_btn"] = gr.DownloadButton(
            "Export conversation (Markdown)", size="sm", interactive=False, elem_id="kbqa-export"
        )
    with gr.Group(visible=False, elem_id="kbqa-feedback") as box:
        p.c["fb_box"] = box
        p.c["fb_title"] = gr.Markdown(label="Feedback")
        p.c["fb_rating"] = gr.Radio([("Helpful", "up"), ("Not helpful", "down")], label="Your rating", value="up")
        p.c["fb_comment"] = gr.Textbox(
            label="Comment (optional)",
            placeholder="What was wrong or missing? Which source should it have used?",
            lines=2,
        )
        p.c["fb_send"] = gr.Button("Send feedback", size="sm")
        p.c["fb_turn"] = gr.Number(visible=False, precision=0)
    with gr.Accordion("Filters", open=False, elem_id="kbqa-filters"):
        with gr.Row():
            p.c["source_dd"] = gr.Dropdown(
                label="Source file", choices=_any([]), value="", elem_id="kbqa-f-source", **_open
            )
            p.c["keyword_dd"] = gr.Dropdown(
                label="Keyword", choices=_any([]), value="", elem_id="kbqa-f-keyword", **_open
            )
        with gr.Row():
            p.c["contributor_dd"] = gr.Dropdown(
                label="Contributor", choices=_any([]), value="", elem_id="kbqa-f-contributor", **_open
            )
            p.c["year_from"] = gr.Dropdown(
                label="From year", choices=_any([]), value="", elem_id="kbqa-f-from", **_open
            )
            p.c["year_to"] = gr.Dropdown(label="To year", choices=_any([]), value="", elem_id="kbqa-f-to", **_open)
        p.c["clear_btn"] = gr.Button("Clear filters", size="sm")
    with gr.Accordion("Advanced", open=False, elem_id="kbqa-advanced"):
        p.c["mode"] = gr.Dropdown(label="Answer mode", choices=handlers.mode_choices(), value=_default_mode(settings))
        p.c["k"] = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to retrieve (k)")
        p.c["threshold"] = gr.Slider(
            0,
            1,
            value=settings.abstain_threshold,
            step=0.05,
            label="Abstention level: higher declines more readily (extractive answers)",
        )


def _documents_tab(p: _Parts, settings: Settings) -> None:
    gr.Markdown(
        f"Add your own documents: {', '.join(settings.upload_types)}, up to {settings.upload_max_mb:g} MB each and "
        f"{settings.upload_max_files} at a time. They can be asked about as soon as they are indexed."
    )
    p.c["files"] = gr.File(
        label="Documents to add",
        file_count="multiple",
        file_types=list(settings.upload_types),
        type="filepath",
        elem_id="kbqa-upload",
        height=150,
    )
    p.c["add_btn"] = gr.Button("Add to the knowledge base", variant="primary", elem_id="kbqa-add")
    p.c["upload_result"] = gr.HTML(label="Upload result", elem_id="kbqa-upload-result")
    gr.Markdown("### Indexed files")
    p.c["table"] = gr.HTML(label="Indexed files", elem_id="kbqa-sources-table")
    with gr.Row():
        p.c["remove_dd"] = gr.Dropdown(
            label="File to remove", choices=[], value=None, elem_id="kbqa-remove-choice", **_open
        )
        p.c["remove_btn"] = gr.Button("Remove from the index", variant="stop", elem_id="kbqa-remove")
    p.c["remove_result"] = gr.HTML(label="Remove result", elem_id="kbqa-remove-result")


def _quality_tab(p: _Parts) -> None:
    gr.Markdown(
        "The latest answer-quality evaluation (`kbqa eval run`, see evals/README.md): how often answers carry "
        "every fact of the reference, cite the evidence and decline what the knowledge base does not answer."
    )
    p.c["quality"] = gr.HTML(elem_id="kbqa-quality")
    with gr.Row():
        p.c["quality_refresh"] = gr.Button("Refresh", elem_id="kbqa-quality-refresh", scale=0)
        p.c["quality_report"] = gr.DownloadButton(
            "Download the full report (HTML)", visible=False, elem_id="kbqa-quality-report", scale=0, min_width=280
        )


def _wire(p: _Parts, ui: _Events, demo: gr.Blocks, settings: Settings) -> None:
    """Events → handlers. Answers share a concurrency group sized by the settings; indexing runs one at a time
    in its own group, so an upload never holds up questions; clicks on sources are not queued behind answers."""
    filters = [p.source_dd, p.keyword_dd, p.contributor_dd, p.year_from, p.year_to]
    choice_outputs = [p.source_dd, p.keyword_dd, p.contributor_dd, p.year_from, p.year_to, p.table, p.remove_dd]
    ask_inputs = [p.question, p.session, p.mode, p.k, p.threshold, *filters]
    ask_outputs = [p.chat, p.session, p.panel, p.question, p.export_btn, p.fb_box]
    ask_options: dict[str, Any] = {
        "concurrency_limit": settings.ui_concurrency,
        "concurrency_id": "answer",
        "trigger_mode": "once",
        "show_progress": "hidden",
    }
    asked = p.question.submit(ui.ask, ask_inputs, ask_outputs, api_name="ask", **ask_options)
    example = p.chat.example_select(ui.example, None, p.question, api_visibility="private").then(
        ui.ask, ask_inputs, ask_outputs, api_visibility="private", **ask_options
    )
    p.question.stop(None, None, None, cancels=[asked, example], api_visibility="private")
    p.new_btn.click(
        ui.new_conversation,
        None,
        [p.chat, p.session, p.panel, p.export_btn, p.fb_box],
        api_name="new_conversation",
        cancels=[asked, example],
    )

    quick: dict[str, Any] = {"concurrency_limit": None, "show_progress": "hidden"}
    p.panel.click(ui.panel_event, [p.session], p.panel, api_visibility="private", **quick)
    p.show_btn.click(ui.show_source, [p.api_turn, p.api_n, p.session], p.panel, api_name="show_source", **quick)
    p.entry_btn.click(ui.open_entry, [p.api_turn, p.api_n, p.session], p.panel, api_name="open_entry", **quick)

    fb_outputs = [p.fb_box, p.fb_title, p.fb_rating, p.fb_turn, p.fb_comment]
    p.chat.like(ui.like, [p.session], fb_outputs, api_visibility="private", **quick)
    p.fb_send.click(
        ui.send_feedback, [p.session, p.fb_turn, p.fb_rating, p.fb_comment], p.fb_title, api_name="send_feedback"
    )

    for f in filters:
        f.change(ui.describe_filters, filters, p.active, api_visibility="private", **quick)
    p.clear_btn.click(lambda: [""] * 5, None, filters, api_visibility="private", **quick)

    index_options: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "index"}
    p.add_btn.click(
        ui.add_documents,
        [p.files],
        [p.upload_result, p.files, *choice_outputs],
        api_name="add_documents",
        **index_options,
    )
    p.remove_btn.click(
        ui.remove, [p.remove_dd], [p.remove_result, *choice_outputs], api_name="remove_source", **index_options
    )

    quality_outputs = [p.quality, p.quality_report]
    p.quality_tab.select(ui.quality, None, quality_outputs, api_visibility="private", **quick)
    p.quality_refresh.click(ui.quality, None, quality_outputs, api_name="quality", **quick)

    status_outputs = [p.status, p.timer, *choice_outputs]
    demo.load(ui.on_load, None, status_outputs, api_name="index_status", **quick)
    p.timer.tick(ui.on_load, None, status_outputs, api_visibility="private", **quick)


class _Events:
    """Gradio-facing wrappers: form values in, component updates out; errors become gr.Error messages."""

    def __init__(self, handlers: Handlers) -> None:
        self.h = handlers

    def ask(
        self,
        question: str,
        session: Session | None,
        mode: str | None = None,
        k: float | None = None,
        threshold: float | None = None,
        source: str | None = None,
        keyword: str | None = None,
        contributor: str | None = None,
        year_from: str | None = None,
        year_to: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Answer a question in this session's conversation, streaming the answer into the chat."""
        session = self.h.session(session)
        try:
            options = self.h.options(mode, k, threshold, source, keyword, contributor, year_from, year_to)
        except UsageError as exc:
            raise _error(str(exc)) from None
        for update in self.h.ask(question, session, options):
            panel = update.panel if update.panel is not None else gr.skip()
            export = gr.DownloadButton(value=update.export, interactive=True) if update.export else gr.skip()
            yield update.messages, session, panel, "", export, gr.skip()

    def example(self, evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    def new_conversation(self) -> tuple[Any, ...]:
        """Forget this session's conversation: the next question starts afresh."""
        return (
            [],
            self.h.new_session(),
            render.EMPTY_PANEL,
            gr.DownloadButton(value=None, interactive=False),
            gr.Group(visible=False),
        )

    def panel_event(self, session: Session | None, evt: gr.EventData) -> str:
        """A click on an [n] link or a card button (sent by the panel's script)."""
        if session is None:
            return render.EMPTY_PANEL
        action, turn, n = getattr(evt, "action", "cite"), getattr(evt, "turn", -1), getattr(evt, "n", 0)
        if action == "entry":
            return self.h.open_entry(session, turn, n)
        return self.h.show_source(session, turn, n)

    def show_source(self, turn: float | None, n: float | None, session: Session | None) -> str:
        """The source panel of answer `turn` (0-based) with citation [n] open."""
        if session is None or turn is None or n is None:
            return render.EMPTY_PANEL
        return self.h.show_source(session, int(turn), int(n))

    def open_entry(self, turn: float | None, n: float | None, session: Session | None) -> str:
        """The full entry that citation [n] of answer `turn` comes from."""
        if session is None or turn is None or n is None:
            return render.EMPTY_PANEL
        return self.h.open_entry(session, int(turn), int(n))

    def like(self, session: Session | None, evt: gr.LikeData) -> tuple[Any, ...]:
        """Thumbs up/down on an answer: recorded at once; the form for a comment opens."""
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        turn = session.message_turn.get(int(index)) if session else None
        if session is None or turn is None:
            return (gr.skip(),) * 5
        rating = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(evt.liked)
        if rating is None:  # the thumb was clicked again: the rating is withdrawn
            self.h.unrate(session, turn)
            return gr.Group(visible=False), "", gr.skip(), gr.skip(), ""
        message = self.h.rate(session, turn, rating)
        return gr.Group(visible=True), f"{message} Add a comment if you like:", rating, turn, ""

    def send_feedback(
        self, session: Session | None, turn: float | None, rating: str, comment: str | None = None
    ) -> str:
        """Rate answer `turn` (0-based) of this session "up" or "down", with an optional comment."""
        if session is None or turn is None:
            raise _error("There is no answer to give feedback on yet.")
        try:
            return self.h.rate(session, int(turn), rating, comment or None)
        except UsageError as exc:
            raise _error(str(exc)) from None

    def describe_filters(self, *values: Any) -> str:
        try:
            options = self.h.options(None, None, None, *values)
        except UsageError as exc:
            return f"<p>⚠ {render.esc(exc)}</p>"
        active = filter_dict(options.filters)
        if not active:
            return ""
        years = [active.pop("year_from", None), active.pop("year_to", None)]
        parts = [f"{name} = {value}" for name, value in active.items()]
        if any(years):
            parts.append(f"years {years[0] or '…'}–{years[1] or '…'}")
        return f"<p>Searching only: {render.esc('; '.join(parts))}</p>"

    # -------------------------------------------------------- documents and index status

    def _choices(self) -> list[Any]:
        c = self.h.choices()
        rows = self.h.source_rows()
        years = [str(y) for y in range(c.year_min, c.year_max + 1)] if c.year_min and c.year_max else []
        return [
            gr.Dropdown(choices=_any(c.sources)),
            gr.Dropdown(choices=_any(c.keywords)),
            gr.Dropdown(choices=_any(c.contributors)),
            gr.Dropdown(choices=_any(years)),
            gr.Dropdown(choices=_any(years)),
            render.sources_table_html(rows),
            gr.Dropdown(choices=[r.source for r in rows]),
        ]

    def quality(self) -> list[Any]:
        """The Quality tab: the newest finished eval run's figures and its report."""
        view = quality.latest(self.h.settings.eval_runs_dir)
        report = (
            gr.DownloadButton(value=str(view.report), visible=True) if view.report else gr.DownloadButton(visible=False)
        )
        return [view.html, report]

    def on_load(self) -> list[Any]:
        """Page load: the index status, and the filter choices and file list once the index is ready."""
        status = self.h.status
        if status is not None and not status.ready.is_set():
            return [_status(status.describe()), gr.Timer(active=True), *([gr.skip()] * 7)]
        return [_status(status.describe() if status else ""), gr.Timer(active=False), *self._choices()]

    def add_documents(self, paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> list[Any]:  # noqa: B008
        """Upload documents into the knowledge base (each file's result is listed)."""
        if not paths:
            raise _error("Choose one or more files first.")

        def show(p: IngestProgress) -> None:
            progress(p.fraction(), desc=f"Indexing: {p.describe()}")

        report = self.h.add_documents([(p, Path(p).name) for p in paths], IngestProgress(show))
        return [render.upload_report_html(report), None, *self._choices()]

    def remove(self, source: str | None) -> list[Any]:
        """Remove an indexed file: its passages leave the index."""
        try:
            message = self.h.remove(source)
        except KBQAError as exc:
            raise _error(str(exc)) from None
        return [_line(message), *self._choices()]


def _any(values: list[str]) -> list[tuple[str, str]]:
    """Filter choices: "Any" (no filter) first."""
    return [("Any", ""), *((v, v) for v in values)]


def _status(text: str) -> Any:
    """The index status line: shown only while there is something to say."""
    return gr.HTML(value=_line(text), visible=bool(text))


def _line(text: str) -> str:
    return f"<p>{render.esc(text)}</p>" if text else ""


def _error(message: str) -> gr.Error:
    """A message for Gradio's error pop-up, which renders HTML: escaped (it may name an uploaded file)."""
    return gr.Error(render.esc(message), print_exception=False)


def _default_mode(settings: Settings) -> str:
    return settings.llm or EXTRACTIVE


def create(settings: Settings) -> tuple[gr.Blocks, Handlers]:
    """The app on these settings, with the first index build (if needed) started in the background."""
    kb = kbqa.KnowledgeBase(settings)
    status = IndexStatus(kb)
    status.start()
    handlers = Handlers(kb, status)
    demo = build(handlers)
    demo.queue(default_concurrency_limit=settings.ui_concurrency, max_size=QUEUE_MAX)
    return demo, handlers


def launch_options(settings: Settings, share: bool = False) -> dict[str, Any]:
    """Everything `demo.launch()` needs besides the app."""
    return {
        "server_name": settings.ui_host,
        "server_port": settings.ui_port,
        "auth": parse_auth(settings.ui_auth),
        "auth_message": "kbqa: log in to ask the knowledge base",
        "share": share,
        "css": (STATIC / "kbqa.css").read_text(encoding="utf-8"),
        # Gradio's own cap is a guard against huge uploads; the per-file limit with its clear message is ours
        "max_file_size": int(4 * settings.upload_max_mb * 1_000_000),
        "show_error": False,  # Gradio would render a bug's message as HTML; our own errors are escaped gr.Errors
        "footer_links": ["api", "settings"],
        # the Quality tab offers the latest eval report for download (eval runs hold questions and passages
        # of the knowledge base, nothing else)
        "allowed_paths": [str(Path(settings.eval_runs_dir).resolve())],
    }


def serve(settings: Settings, share: bool = False) -> int:
    """`kbqa ui`: serve the app until interrupted."""
    if settings.ui_host not in ("127.0.0.1", "localhost", "::1") and not settings.ui_auth:
        print(f"kbqa ui: warning: serving on {settings.ui_host} without a login (--auth USER:PASS)", file=sys.stderr)
    demo, handlers = create(settings)
    try:
        demo.launch(**launch_options(settings, share))
    finally:
        shutil.rmtree(handlers.exports, ignore_errors=True)
    return 0

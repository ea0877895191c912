"""Runs: a TOML config → every item answered through the public API, measured, written to a run folder.

A run folder `evals/runs/<timestamp>-<name>/` holds `config.toml` (as given), `run.json` (resolved
config, fingerprint, versions), `items.jsonl` (one `Record` per item, appended as it is done),
`summary.json` and `report.html`. An interrupted run is resumed by running the same config again: the
newest unfinished folder with the same fingerprint (config, set contents, documents) is continued, so
the final summary is the same as an uninterrupted run's (latency aside).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kbqa.config import Settings
from kbqa.errors import LLMError, UsageError
from kbqa.eval import citations
from kbqa.eval.dataset import Item, QuestionSet, evidence_in, load_set, span_in
from kbqa.eval.judge import Judge, JudgeConfig
from kbqa.eval.metrics import DEPTH, Record, Retrieved, item_values
from kbqa.eval.progress import RunProgress

MODES = ("hybrid", "dense", "bm25")


class DocumentFolder(BaseModel):
    """A folder indexed for the run; `render` names a Python file whose `render(src, dest) -> list[Path]`
    turns the folder's raw sources into the documents to index (e.g. text → PDF)."""

    model_config = ConfigDict(extra="forbid")
    path: str
    render: str | None = None


class AnswerConfig(BaseModel):
    """`[answer]`: how items are answered (None = the extractive answerer)."""

    model_config = ConfigDict(extra="forbid")
    llm: str | None = None  # preset or base URL
    model: str | None = None
    api_key_env: str | None = None
    answerer: str | None = None  # a registered answerer (extractive, catalog, llm); None = kbqa's choice
    k: int | None = None
    timeout: float | None = None

    @field_validator("llm")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None


class Price(BaseModel):
    """USD per million tokens."""

    prompt: float
    completion: float


class Gate(BaseModel):
    """Thresholds: `metric` (whole run) or `set:metric` → bound."""

    model_config = ConfigDict(extra="forbid")
    fail_under: dict[str, float] = Field(default_factory=dict)  # higher-is-better metrics
    fail_over: dict[str, float] = Field(default_factory=dict)  # lower-is-better metrics


class RunConfig(BaseModel):
    """A run config file (evals/configs/*.toml); relative paths are relative to `root`."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    root: str = "."  # relative to the config file's folder
    sets: list[str]  # names in sets_dir or .jsonl paths
    sets_dir: str = "evals/sets"
    limit: int | None = None  # only the first N items of each set (small smoke configs)
    documents: list[str | DocumentFolder] = ["corpus"]
    settings: dict[str, Any] = Field(default_factory=dict)  # kbqa Settings overrides (chunk_size, …)
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    retrieval_modes: list[str] = list(MODES)
    judge: JudgeConfig | None = None
    judges_dir: str = "evals/judges"
    runs_dir: str = "evals/runs"
    requires_env: list[str] = Field(default_factory=list)  # skip the run (one line) when one is unset
    pricing: dict[str, Price] = Field(default_factory=dict)  # model name → price
    gate: Gate = Field(default_factory=Gate)


@dataclass
class LoadedConfig:
    """A parsed config with its paths resolved."""

    config: RunConfig
    path: Path
    root: Path
    text: str

    @classmethod
    def inline(cls, config: RunConfig, root: Path) -> LoadedConfig:
        """A config built in code (tuning scripts, `--sets` without a config file)."""
        return cls(config, Path(f"({config.name})"), Path(root).resolve(), config.model_dump_json())

    def at(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def set_paths(self) -> list[Path]:
        return [self.at(s) if s.endswith(".jsonl") else self.at(self.config.sets_dir) / f"{s}.jsonl" for s in self.config.sets]  # fmt: skip

    def folders(self) -> list[DocumentFolder]:
        return [DocumentFolder(path=d) if isinstance(d, str) else d for d in self.config.documents]


def load_config(path: Path) -> LoadedConfig:
    """Read and check a run config; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{path}: {where}: {err['msg']}") from None
    bad = [m for m in config.retrieval_modes if m not in MODES]
    if bad or "hybrid" not in config.retrieval_modes:
        raise UsageError(f"{path}: retrieval_modes must include hybrid and be among {', '.join(MODES)}")
    unknown = [k for k in config.settings if k not in Settings.model_fields]
    if unknown:
        raise UsageError(f"{path}: settings.{unknown[0]}: not a kbqa setting (see README Configuration)")
    return LoadedConfig(config, path, (path.parent / config.root).resolve(), text)


def adhoc_config(sets: list[Path], corpus_dir: Path) -> LoadedConfig:
    """A config for `kbqa eval run --sets FILE…` without a config file: the extractive answerer over
    the corpus folder, runs written under ./evals/runs."""
    config = RunConfig(name="sets", sets=[str(Path(p).resolve()) for p in sets], documents=[str(Path(corpus_dir).resolve())])  # fmt: skip
    return LoadedConfig.inline(config, Path.cwd())


def missing_env(loaded: LoadedConfig) -> list[str]:
    return [name for name in loaded.config.requires_env if not os.environ.get(name)]


# ------------------------------------------------------------------ progress


# ------------------------------------------------------------------ the index a run answers from


def prepare_index(loaded: LoadedConfig, base: Settings, progress: RunProgress) -> Settings:
    """Render and index the config's document folders into an index of their own (reused across runs)."""
    folders = loaded.folders()
    index_settings = base.model_copy(update=loaded.config.settings)
    key_data = {
        "documents": [(str(loaded.at(f.path).resolve()), f.render) for f in folders],
        "chunk_size": index_settings.chunk_size,
        "chunk_overlap": index_settings.chunk_overlap,
    }
    key = hashlib.sha1(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:12]
    home = Path(base.eval_data_dir) / key
    paths = []
    for f in folders:
        src = loaded.at(f.path)
        if not src.is_dir():
            raise UsageError(f"{loaded.path}: documents: {src} is not a folder")
        if f.render:
            dest = home / "rendered" / src.name
            _render(loaded.at(f.render), src, dest, loaded.path)
            paths.append(dest)
        else:
            paths.append(src)
    settings = index_settings.model_copy(update={"data_dir": home / "index", "corpus_dir": paths[0]})
    from kbqa.api import KnowledgeBase

    report = KnowledgeBase(settings).ingest(paths, wait=True)
    if report.files_indexed or report.files_removed:
        progress.note(f"index for this run ({home}): {report.summary()}")
    for warning in report.warnings:
        progress.note(f"warning: {warning}")
    return settings


def _render(script: Path, src: Path, dest: Path, config_path: Path) -> list[Path]:
    if not script.is_file():
        raise UsageError(f"{config_path}: documents.render: {script} does not exist")
    spec = importlib.util.spec_from_file_location(f"kbqa_render_{script.stem}", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        spec.loader.exec_module(module)
        if not callable(getattr(module, "render", None)):
            raise UsageError(f"{script}: has no render(src, dest) function")
        return list(module.render(src, dest))
    except ImportError as exc:  # a renderer's own dependency (fpdf2, pyphen, python-docx: the test extra)
        raise UsageError(f"{script}: needs the module {exc.name!r} (pip install -e '.[test]')") from None


# ------------------------------------------------------------------ answering and measuring one item


@dataclass
class Runner:
    """Answers and measures items against one knowledge base, with an optional judge."""

    kb: Any  # kbqa.api.KnowledgeBase
    config: RunConfig
    judge: Judge | None = None
    relevant: dict[str, int] = field(default_factory=dict)  # item key → passages in the index holding evidence
    support: citations.SupportCheck = field(init=False)

    def __post_init__(self) -> None:
        from kbqa.answer.verify import Verifier

        self.support = citations.SupportCheck(Verifier(self.kb.embedder))

    def count_relevant(self, sets: list[QuestionSet]) -> None:
        """For nDCG's ideal ranking: how many passages of the whole index contain each item's evidence."""
        texts = [chunk.text for chunk in self.kb.store.iter_live()]
        for qs in sets:
            for item in qs.items:
                self.relevant[key(qs.name, item)] = sum(1 for t in texts if evidence_in(t, item.evidence))

    def answer(self, item: Item) -> tuple[Any, float]:
        """Ask the history's questions in one conversation (untimed), then time the question itself."""
        opts = {"llm": self.config.answer.llm, "k": self.config.answer.k, "answerer": self.config.answer.answerer}
        conversation = self.kb.conversation()
        for earlier in item.history:
            conversation.ask(earlier, **opts)
        started = time.perf_counter()
        answer = conversation.ask(item.question, **opts)
        return answer, time.perf_counter() - started

    def retrieval(self, item: Item, searched: str) -> tuple[dict[str, list[Retrieved]], list[str]]:
        """Each mode's top DEPTH passages with the gold spans they hold, and the top-k hybrid texts."""
        out, contexts = {}, []
        for mode in self.config.retrieval_modes:
            hits = self.kb.retrieve(searched, k=DEPTH, mode=mode)
            if mode == "hybrid":
                contexts = [h.chunk.text for h in hits[: self.config.answer.k or self.kb.settings.k]]
            out[mode] = [
                Retrieved(
                    source=h.chunk.source,
                    chunk_id=h.chunk.id,
                    spans=[i for i, s in enumerate(item.evidence) if span_in(s, h.chunk.text)],
                )
                for h in hits
            ]
        return out, contexts

    def measure(self, set_name: str, item: Item) -> Record:
        answer, seconds = self.answer(item)
        data = answer.to_json()
        searched = data.get("standalone_question") or item.question
        passages = [citations.Passage(c["n"], c.get("title", ""), c.get("text", "")) for c in data["citations"]]
        checked = [] if answer.abstained else citations.check(answer.answer, passages, self.support)
        retrieved, contexts = self.retrieval(item, searched)
        record = Record(
            set=set_name,
            item=item,
            answer=data,
            seconds=round(seconds, 4),
            llm=self.config.answer.llm,
            retrieval=retrieved,
            contexts=contexts,
            relevant_in_index=self.relevant.get(key(set_name, item), 0),
            statements=citations.to_json(checked),
            usage=_usage(data) if self.config.answer.llm else {},
        )
        if self.judge is not None:
            record.judge = self.judge.judge(record)
        record.cost_usd = cost(record, self.config, self.judge)
        record.metrics = item_values(record)
        return record


def key(set_name: str, item: Item) -> str:
    return f"{set_name}/{item.id}"


def _usage(data: dict[str, Any]) -> dict[str, int]:
    """The endpoint's token counts; the output counted with tiktoken when the endpoint reported none."""
    usage = dict(data.get("usage") or {})
    if "completion_tokens" not in usage and not data.get("fallback"):
        from kbqa.tokens import count_tokens

        usage["completion_tokens"] = count_tokens(data.get("answer", ""))
    return {k: int(v) for k, v in usage.items() if k in ("prompt_tokens", "completion_tokens")}


def cost(record: Record, config: RunConfig, judge: Judge | None) -> float | None:
    """USD from the price table: the answer's tokens at its model's price, plus the judge's at its."""
    total, priced = 0.0, False
    price = config.pricing.get(record.answer.get("model") or "")
    if price and record.usage:
        total += record.usage.get("prompt_tokens", 0) * price.prompt + record.usage.get("completion_tokens", 0) * price.completion  # fmt: skip
        priced = True
    jprice = config.pricing.get(judge.model or "") if judge else None
    if jprice:
        for v in record.judge.values():
            total += v.prompt_tokens * jprice.prompt + v.completion_tokens * jprice.completion
        priced = True
    return round(total / 1e6, 6) if priced else None


# ------------------------------------------------------------------ the run folder


def fingerprint(loaded: LoadedConfig, sets: list[QuestionSet], settings: Settings) -> str:
    """What must match for a run folder to be resumed: the config (gate aside), set contents, documents.
    `limit` is left out: a run can be resumed with more (or fewer) items per set."""
    config = loaded.config.model_dump(exclude={"gate", "description", "limit"})
    data = {
        "config": config,
        "sets": {qs.name: hashlib.sha256(qs.path.read_bytes()).hexdigest() for qs in sets},
        "index": str(settings.data_dir),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def find_resumable(runs_dir: Path, name: str, wanted: str) -> Path | None:
    """The newest unfinished run folder of this config with the same fingerprint."""
    if not runs_dir.is_dir():
        return None
    for folder in sorted(runs_dir.glob(f"*-{name}"), reverse=True):
        meta = folder / "run.json"
        if (folder / "summary.json").exists() or not meta.exists():
            continue
        try:
            if json.loads(meta.read_text())["fingerprint"] == wanted:
                return folder
        except (OSError, ValueError, KeyError):
            continue
    return None


def latest_finished(runs_dir: Path, name: str | None = None) -> Path | None:
    """The newest finished run folder (optionally of one config), e.g. for a UI's quality view."""
    pattern = f"*-{name}" if name else "*"
    done = (
        [f for f in Path(runs_dir).glob(pattern) if (f / "summary.json").is_file()] if Path(runs_dir).is_dir() else []
    )
    return max(done, key=lambda f: f.name, default=None)


def read_records(path: Path) -> list[Record]:
    """Records of items.jsonl; a line cut off by an interrupted write is dropped (the item is redone)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(Record.model_validate_json(line))
        except ValidationError:
            continue
    return records


def _meta(loaded: LoadedConfig, print_: str, settings: Settings) -> dict[str, Any]:
    from kbqa import __version__

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=loaded.root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "name": loaded.config.name,
        "config_file": str(loaded.path),
        "config": loaded.config.model_dump(),
        "fingerprint": print_,
        "started": datetime.now().isoformat(timespec="seconds"),
        "kbqa_version": __version__,
        "git_commit": commit or None,
        "python": platform.python_version(),
        "index": str(settings.data_dir),
        "settings": json.loads(settings.model_dump_json(exclude={"llm_api_key"})),
    }


@dataclass
class RunResult:
    folder: Path
    records: list[Record]
    summary: dict[str, Any]


def run(
    loaded: LoadedConfig,
    base: Settings,
    progress: RunProgress | None = None,
    runs_dir: Path | None = None,
    fresh: bool = False,
) -> RunResult:
    """Answer and measure every item of the config's sets (resuming an unfinished run), then summarise."""
    from kbqa.api import KnowledgeBase
    from kbqa.eval.report import write_report
    from kbqa.eval.summary import summarize

    progress = progress or RunProgress()
    config = loaded.config
    sets = [_limited(load_set(p), config.limit) for p in loaded.set_paths()]
    settings = prepare_index(loaded, base, progress)
    settings = settings.model_copy(update=_answer_settings(config.answer))
    kb = KnowledgeBase(settings)
    _check_answer_endpoint(config.answer, settings)
    judge = _make_judge(loaded, base, progress)

    runs_dir = runs_dir or loaded.at(config.runs_dir)
    print_ = fingerprint(loaded, sets, settings)
    folder = None if fresh else find_resumable(runs_dir, config.name, print_)
    resumed = folder is not None
    if folder is None:
        folder = runs_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{config.name}"
        folder.mkdir(parents=True, exist_ok=False)
        (folder / "config.toml").write_text(loaded.text, encoding="utf-8")
        (folder / "run.json").write_text(json.dumps(_meta(loaded, print_, settings), indent=2), encoding="utf-8")
    items_path = folder / "items.jsonl"
    stored = read_records(items_path)
    _rewrite(items_path, stored)  # drop a half-written last line before appending
    wanted = {key(qs.name, item) for qs in sets for item in qs.items}
    records = [r for r in stored if f"{r.set}/{r.item.id}" in wanted]  # a smaller `limit` leaves some out
    done = {f"{r.set}/{r.item.id}" for r in records}

    runner = Runner(kb, config, judge)
    runner.count_relevant(sets)
    todo = [(qs.name, item) for qs in sets for item in qs.items if key(qs.name, item) not in done]
    progress.start(len(todo) + len(done), len(done), folder, resumed)
    with items_path.open("a", encoding="utf-8") as out:
        for set_name, item in todo:
            record = runner.measure(set_name, item)
            out.write(record.model_dump_json() + "\n")
            out.flush()
            records.append(record)
            progress.item_done(record)
    order = {key(qs.name, item): i for i, (qs, item) in enumerate((qs, it) for qs in sets for it in qs.items)}
    records.sort(key=lambda r: order.get(f"{r.set}/{r.item.id}", len(order)))
    meta = json.loads((folder / "run.json").read_text())
    summary = summarize(records, meta, judge.describe() if judge else None)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_report(folder / "report.html", summary, records)
    return RunResult(folder, records, summary)


def _limited(qs: QuestionSet, limit: int | None) -> QuestionSet:
    return qs if limit is None else QuestionSet(qs.name, qs.path, qs.items[:limit])


def _rewrite(path: Path, records: list[Record]) -> None:
    if path.exists():
        path.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")


def _answer_settings(answer: AnswerConfig) -> dict[str, Any]:
    """The answering model's settings, explicitly (a shell's KBQA_LLM_* must not leak into a run)."""
    update: dict[str, Any] = {"llm": answer.llm, "llm_model": answer.model, "llm_base_url": None}
    if answer.api_key_env:
        update["llm_api_key"] = os.environ.get(answer.api_key_env)
    if answer.timeout:
        update["llm_timeout"] = answer.timeout
    return update


def _check_answer_endpoint(answer: AnswerConfig, settings: Settings) -> None:
    """Fail before the first item when the answering LLM is unreachable (else every answer is a fallback)."""
    if not answer.llm:
        return
    from kbqa.llm.client import LLMClient, resolve

    try:
        LLMClient(resolve(settings, answer.llm)).list_models()
    except LLMError as exc:
        raise LLMError(f"the answering LLM is unavailable: {exc}") from None


def _make_judge(loaded: LoadedConfig, base: Settings, progress: RunProgress) -> Judge | None:
    if loaded.config.judge is None:
        return None
    judge = Judge(loaded.config.judge, base, loaded.at(loaded.config.judges_dir))
    problem = judge.check()
    if problem:
        progress.note(f"judge unavailable, items will be marked unjudged: {problem}")
    return judge


def gate(summary: dict[str, Any], gate_: Gate) -> list[str]:
    """One line per threshold the run misses; `set:metric` looks in the set's figures."""
    from kbqa.eval.metrics import METRICS

    failures = []
    for bounds, under in ((gate_.fail_under, True), (gate_.fail_over, False)):
        for target, bound in bounds.items():
            scope, _, name = target.rpartition(":")
            if name not in METRICS:
                raise UsageError(f"gate: unknown metric {name!r} (known: {', '.join(METRICS)})")
            if METRICS[name].higher_is_better != under:
                flag = "--fail-over" if under else "--fail-under"
                raise UsageError(f"gate: {name} is {'lower' if under else 'higher'}-is-better; use {flag}")
            figures = summary["by_set"].get(scope) if scope else summary["metrics"]
            if figures is None:
                raise UsageError(f"gate: {target}: no set named {scope!r} in this run")
            value = figures.get(name)
            if value is None:
                failures.append(f"{target}: not measured in this run (bound {bound})")
            elif (value < bound) if under else (value > bound):
                failures.append(f"{target} = {value:.4f} is {'below' if under else 'above'} {bound}")
    return failures


def parse_bounds(pairs: list[str] | None) -> dict[str, float]:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(f"{pair!r}: expected METRIC=VALUE or SET:METRIC=VALUE, e.g. answer_accuracy=0.8")
    return out

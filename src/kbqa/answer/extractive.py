"""The extractive answerer: the best sentences of the retrieved passages, each cited, or an abstention.

No LLM is involved. Every sentence of the top passages is scored by meaning
(cosine to the question), by words (how much of the question's weighted terms
it and its passage contain, synonyms counting for most of a match) and by
whether it holds the kind of fact asked for (a new name for "who", a year for
"when"...). The answer is the best one or two sentences, verbatim, so every
claim is exactly what its citation says.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from kbqa.answer import Context, Request
from kbqa.answer.entities import best_mentions
from kbqa.answer.related import related_stems, surface_words
from kbqa.config import Settings
from kbqa.index.embed import BaseEmbedder
from kbqa.index.keyword import KeywordIndex
from kbqa.ingestion.clean import BULLET
from kbqa.ingestion.records import MONTH
from kbqa.schema import Answer, Chunk, Citation, Entry, Event, Final, FollowUp, Hit, TextDelta
from kbqa.text import (
    CLASS_NOUNS,
    GENRES,
    MADE_WORDS,
    REFERS_BACK,
    TYPE_NOUNS,
    abbreviations,
    addresses_the_model,
    answer_names_other_noun,
    answer_type,
    asks_for_all,
    asks_for_text,
    field_line,
    focus_word,
    gives_intent,
    has_new_fact,
    how_many_verb,
    instructions_notice,
    intents,
    is_overview,
    line_kind,
    names_a_person,
    normalize_space,
    numbered_instances,
    ordinal_instance,
    sentence_spans,
    sentences,
    split_parts,
    tokenize,
    wh_pair_parts,
    when_made,
    who_verb,
)

ABSTAIN_TEXT = "The knowledge base does not answer this question."

# Feature weights of a sentence's score (see `Candidate`), set by hand on evals/sets/dev.jsonl;
# evals/fit_weights.py compares them with weights fit by regression, which generalised no better.
WEIGHTS = {
    "sim": 0.40,
    "lex": 0.10,
    "beyond": 0.20,
    "ctx": 0.20,
    "near": 0.30,
    "typed": 0.10,
    "focus": 0.10,
    "cue": 0.20,
    "prior": 0.05,
    "title": -0.15,
    "field": -0.10,
    "short": -0.05,
}
# The abstention model: a logistic regression over the signals of `Extractive.judge`, fit with
# evals/fit_abstain.py on evals/sets/dev.jsonl (answerable and out-of-scope questions).
ABSTAIN_WEIGHTS = {
    "beyond": 0.37,
    "score": 0.91,
    "support": 0.47,
    "lex": 0.41,
    "dense": 1.6,
    "unknown": -1.34,
    "offtopic": 0.03,
    "sim": 1.91,
}
ABSTAIN_BIAS = -1.72
_TOPIC_WORDS = re.compile(r"\b(keywords?|topics?|themes?|tagged|about)\b", re.I)

# Words that ask for the same thing in other terms. Lexical matching counts a synonym as
# most of a match, so "who is paying for" finds "funded by" and "begin" finds "evolved from".
SYNONYMS = [
    "fund funded funding funder pay paying paid finance financed sponsor sponsored grant awarded",
    "begin began begun start started origin originate originated evolved launch launched",
    "lead led leader leading coordinate coordinated head headed direct directed manage managed chair",
    "collaborate collaborated collaboration partner partnership partners team together jointly",
    "focus focused concentrate concentrated priority priorities emphasis",
    "issue topic problem question concern subject",
    "aim aims goal goals purpose objective intended intend seeks",
    "find findings found result results conclude concluded show showed demonstrate demonstrated suggest suggests",
    "recommend recommendation recommendations advice advise",
    "write wrote written author authored authors publish published publication",
    "contribute contributed contributor contributors",
    "country countries nation nations",
    "council councils authority authorities",
    "method methods methodology approach approaches technique techniques",
    "people person individuals citizens residents participants",
    "study studies research project projects programme",
    "help support supported assist enable",
    "money budget pounds",  # (not "funds": "participatory budgeting" says nothing about who funds it)
    "challenge challenges barrier barriers difficulty difficulties obstacle",
    "benefit benefits value advantages",
    "run ran running operate operated",
    "involve involved involvement engage engaged engagement participate participation",
    "difference factor factors ingredient key reason reasons cause causes",
    "decide decided decision decisions choose chose chosen",
    "time times occasion occasions",
]
SYNONYM_WEIGHT = 0.7
RELATED_WEIGHT = 0.5  # a passage word close in meaning to a question word (`related`) counts this much of a match
ON_TOPIC = 0.9  # a runner-up from another entry joins the answer only if its passage covers the question this well
CONTEXT_WEIGHT = 0.5
TITLE_TERM = 0.5  # a question word in the passage's title counts this much towards what a sentence adds
DATE_LINE_WORDS = 4  # a line this short holding a date is an entry's date line
DATE_LINE_WITHIN = 0.75  # …and answers "when" for its entry if it scores this share of the best sentence
ENTRY_MAJORITY = 2  # passages of one entry among those found that make it the entry asked about …
ENTRY_REST_MAX = 3  # … whose other passages (at most this many) are read too
DATED_WITHIN = 0.85  # …as does a sentence of the entry holding a date, if it scores this share
NAME_PASSAGES = 50  # passages of a file searched for a name the question asks about, to find its entry's
ORDINAL_WITHIN = 0.6  # "the second workshop": a sentence naming "Workshop 2" goes first if it scores this share
PART_RUNNER_UP = 0.8  # a later part's best new sentence must score this share of its best sentence


@dataclass
class Terms:
    """A question's content terms (stemmed) with IDF weights, the synonyms that may stand in for each, and
    the passages' words close to each in meaning (`related`)."""

    weights: dict[str, float]
    alternatives: dict[str, set[str]]
    related: dict[str, set[str]] = field(default_factory=dict)

    def coverage(self, tokens: set[str], related: bool = False) -> float:
        """The weighted share of the question's terms found in `tokens` (`related`: their related words too)."""
        total = sum(self.weights.values())
        if total <= 0:
            return 0.0
        got = 0.0
        for term, weight in self.weights.items():
            if term in tokens:
                got += weight
            elif self.alternatives.get(term, set()) & tokens:
                got += SYNONYM_WEIGHT * weight
            elif related and self.related.get(term, set()) & tokens:
                got += RELATED_WEIGHT * weight
        return got / total


@lru_cache(maxsize=1)
def _synonym_stems() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in SYNONYMS:
        group = set(tokenize([line])[0])
        for stem in group:
            out.setdefault(stem, set()).update(group - {stem})
    return out


@lru_cache(maxsize=1)
def _agent_nouns() -> frozenset[str]:
    """The stems of the synonym list's agent nouns: a word that is another word of its group plus -er or -r
    ("leader", "funder"), not a verb such as "sponsor"."""
    out: set[str] = set()
    for line in SYNONYMS:
        words = set(line.split())
        out |= {w for w in words if w.endswith("er") and ({w[:-2], w[:-1]} & words)}
    return frozenset(tokenize([" ".join(sorted(out))])[0])


def _synonyms_of(stems: set[str]) -> set[str]:
    """The stems of the synonym groups that hold any of `stems` (themselves left out unless a synonym)."""
    synonyms = _synonym_stems()
    return set().union(*(synonyms.get(s, set()) for s in stems))


def with_context(terms: Terms, context: str | None, index: KeywordIndex | None) -> Terms:
    """Add the terms of the question a follow-up leans on, at a lower weight."""
    if not context:
        return terms
    extra = question_terms(context, index)
    for t, w in extra.weights.items():
        terms.weights.setdefault(t, CONTEXT_WEIGHT * w)
    terms.alternatives = {**extra.alternatives, **terms.alternatives}
    return terms


def question_terms(question: str, index: KeywordIndex | None) -> Terms:
    """The question's stemmed content terms weighted by IDF (unseen terms count as rare), with synonyms."""
    tokens = tokenize([question])[0]
    n = len(index) if index is not None else 0
    weights: dict[str, float] = {}
    for t in tokens:
        df = max(index.doc_freq(t) if index is not None else 0, 1)
        weights[t] = math.log(1 + (n - df + 0.5) / (df + 0.5)) if n else 1.0
    synonyms = _synonym_stems()
    return Terms(weights, {t: synonyms[t] for t in weights if t in synonyms})


@dataclass
class Judgement:
    """Whether to answer: the signals, what the best sentence lacks (if anything), and the confidence."""

    signals: dict[str, float]
    missing: str | None  # e.g. "a number", "a name": the kind of fact asked for, absent from the best sentence
    confidence: float

    def confident(self, threshold: float) -> bool:
        """Answer: nothing asked for is missing and the confidence reaches `threshold`."""
        return not self.missing and self.confidence >= threshold


_KIND_NAMES = {
    "person": "a name",
    "place": "a place",
    "date": "a date",
    "duration": "a duration",
    "number": "a number",
    "money": "an amount",
    "age": "an age",
}


# A capitalised word inside a question is a name ("How many people live in Kirklees?"), unless it is one of
# these words that start a clause. An acronym counts when the passage has it too, but its absence proves
# nothing: passages often spell it out (NEF, the New Economics Foundation).
_NOT_NAMES = re.compile(
    r"(?:what|which|who|whom|whose|where|when|how|why|is|are|was|were|did|does|do|can|could|would|should|will"
    r"|in|on|at|of|for|to|from|by|with|about|over|under|and|or|but|if|the|a|an|i|please|tell|list|name|give)",
    re.IGNORECASE,
)
_QUOTED_TITLE = re.compile(r"(?<!\w)['‘“\"][^'’”\"]*\s[^'’”\"]*['’”\"](?!\w)")
_ACRONYM = re.compile(r"\b[A-Z]{2,6}s?\b")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z][\w-]*(?:['’]s)?\b")


def _unmentioned_name(
    question: str,
    passages: list[Chunk],
    index: KeywordIndex | None,
    entry_chunks: Mapping[str, Collection[str]] | None = None,
) -> str | None:
    """A name the question is about, which the knowledge base holds, when the best sentence's entry (the
    retrieved `passages` of it, with its title) and the rest of it mention none of the question's names: the
    sentence is then about something else, however well it scores. One name is enough for a question
    comparing two. The rest is the entry's other passages when `entry_chunks` (entry id → chunk ids) knows
    the entry, else its whole document (a plain document's names may stand in its header)."""
    if index is None:
        return None
    names: list[tuple[str, str]] = []  # (name as asked, its stem)
    # a quoted title is not a run of names: 'Developing tools for co-creation' is not "Developing"
    unquoted = _QUOTED_TITLE.sub(" ", question.strip())
    for run in _name_runs(unquoted):
        known = []
        for word in run:
            stems = tokenize([word])[0]
            if not _NOT_NAMES.fullmatch(word) and stems and index.doc_freq(stems[0]) > 0:
                known.append((word, stems[0]))
        # a name of several words is known by its rarest: "What Works Scotland" is not mentioned by a
        # passage that says "worked"
        names += [min(known, key=lambda f: index.doc_freq(f[1]))] if known else []
    passage = set(tokenize([" ".join(c.embed_text for c in passages)])[0])
    acronyms = set(tokenize([" ".join(_ACRONYM.findall(question))])[0])
    if not names or any(stem in passage for _, stem in names) or acronyms & passage:
        return None
    source = passages[0].source  # a name in a part of the entry or document not retrieved counts too
    own = (entry_chunks or {}).get(passages[0].metadata.get("entry_id") or "")
    n = NAME_PASSAGES if own else 1
    found = index.search(" ".join(w for w, _ in names), n, keep=lambda meta: meta.source == source)
    if any(own is None or chunk_id in own for chunk_id, _ in found):
        return None
    return names[0][0]


def _name_runs(text: str) -> list[list[str]]:
    """The capitalised words of `text` in runs of adjacent ones ("… What Works Scotland set up" → [["Works",
    "Scotland"]]), a possessive 's dropped."""
    runs: list[list[str]] = []
    end = -2
    for m in _CAPITALISED.finditer(text):
        word = re.sub(r"['’]s$", "", m.group())
        if m.start() - end == 1 and text[end] == " ":
            runs[-1].append(word)
        else:
            runs.append([word])
        end = m.end()
    return runs


def _entry_passages(hits: list[Hit], chunk: Chunk) -> list[Chunk]:
    """The retrieved passages of `chunk`'s entry (or, for a document without entries, of its file)."""
    entry = (chunk.source, chunk.metadata.get("entry_id"))
    return [h.chunk for h in hits if (h.chunk.source, h.chunk.metadata.get("entry_id")) == entry]


def _with_names(question: str, named: str | None) -> str:
    """The question with the text whose names count as its own (`named`), for `_unmentioned_name`."""
    return f"{question} {named}" if named else question


def _missing(
    question: str,
    best: Candidate,
    best_tokens: set[str],
    entry: list[Chunk],
    index: KeywordIndex | None = None,
    named: str | None = None,
    entry_chunks: Mapping[str, Collection[str]] | None = None,
) -> str | None:
    """What the question asks for that the best sentence does not contain, if anything. `entry`: the
    retrieved passages of the best sentence's entry; `named`: text whose names count as the question's;
    `entry_chunks`: see `_unmentioned_name`."""
    name = _unmentioned_name(_with_names(question, named), entry, index, entry_chunks)
    if name:
        return f"anything on {name}"
    kind = answer_type(question)
    if kind and not best.typed:
        return _KIND_NAMES[kind]
    asks_member = focus_word(question) in CLASS_NOUNS or answer_names_other_noun(question)
    focus = set() if asks_member else _focus_stems(question)
    # the sentence is read in its entry: a focus noun of the entry's title ("the Enabling Social Action
    # guidance work" for the entry "Enabling Social Action: guidance") names the entry, not a detail of it
    best_tokens = best_tokens | set(tokenize([best.hit.chunk.title])[0])
    said = (focus | _focus_alternatives(question, focus)) & best_tokens
    if focus and not said and not _names_an_instance(question, best.text):
        return f"the {focus_word(question)} asked about"
    return None


def _focus_alternatives(question: str, focus: set[str]) -> set[str]:
    """Words that stand in for the noun asked for: its synonyms, the members of a group asked for, and the kinds
    of a document ("what kind of document is it": "This Research Briefing…")."""
    kinds = set(tokenize([GENRES.replace("|", " ")])[0]) if "genre" in intents(question) else set()
    return _synonyms_of(focus) | _member_stems(question) | kinds


_DETERMINER = re.compile(r"which|what|whose|the|a|an|any|some|each|every|this|that|these|those|other|its|their", re.I)
# Nouns for a group of people, named by who is in it: "practitioner communities" are practitioners.
_COLLECTIVES = {"community", "communities", "group", "groups", "network", "networks", "circle", "circles"}


def _member_stems(question: str) -> set[str]:
    """Who is in the group the question asks for ("which practitioner communities", "which community of
    practitioners" → practitioner): a sentence naming them ("u.lab and Theory U practitioners") names the group."""
    head = focus_word(question)
    if head not in _COLLECTIVES:
        return set()
    h = re.escape(head)
    found = re.findall(rf"\b([\w-]+)\s+{h}\b", question, re.I) + re.findall(rf"\b{h}\s+of\s+([\w-]+)", question, re.I)
    words = [w for w in found if not _DETERMINER.fullmatch(w)]
    return set(tokenize([" ".join(words)])[0])


def _unsaid_verb(question: str, picked: list[Candidate]) -> str | None:
    """What a "who <verb>ed" question asks that the answer never says (a name in sentences that never say
    who chaired the group is no chair), e.g. "who chaired it", or a "how many N have <verb>ed" question ("the
    number received"), or a "when was it founded" one (a year in a sentence that never says anything began);
    None when it says it, or asks no such thing."""
    verb, counted, made = who_verb(question), how_many_verb(question), when_made(question)
    verb = verb or counted or (made[0] if made else None)
    if not verb or not picked:
        return None
    if made and _names_the_entry(made[1], picked[0].hit.chunk.title):
        return None  # "When was the Imagine project launched?": the entry's own dates answer
    stems = set(tokenize([verb])[0])
    # the verb or a synonym of it, but not an agent noun ("public sector leaders" says nobody led anything)
    wanted = set(tokenize([MADE_WORDS])[0]) if made else stems | (_synonyms_of(stems) - _agent_nouns())
    # …in a sentence of the answer's first entry: a runner-up from another entry saying it ("managed grant
    # funds") says nothing about who funds what the question names
    entry = picked[0].hit.chunk.metadata.get("entry_id")
    own = [c.text for c in picked if c.hit.chunk.metadata.get("entry_id") == entry]
    said = set(tokenize([" ".join(own) + " " + picked[0].hit.chunk.title])[0])
    if wanted & said:
        return None
    return f"the number {verb}" if counted else f"when it was {verb}" if made else f"who {verb} it"


def _names_the_entry(subject: str, title: str) -> bool:
    """Does `subject` (of the question) name the entry titled `title`: are its capitalised words all in it?"""
    # (a word before the subject: `_name_runs` does not take a sentence's first word for a name)
    names = {w.lower() for run in _name_runs(f"x {subject}") for w in run}
    return bool(names) and names <= {w.lower() for w in re.findall(r"[\w'’-]+", title)}


# "What CUPI scheme…" asks for a name that follows the modifier: "developed using CUPI ‘Thinking Funding’".
_MODIFIED_FOCUS = re.compile(r"\b(?:[Ww]hat|[Ww]hich)\s+(?P<mod>[A-Z][\w-]*)\s+[a-z]")


def _names_an_instance(question: str, sentence: str) -> bool:
    """The sentence names the thing asked for after the question's own modifier: the noun itself is then
    not needed (a quoted or capitalised name right after "CUPI" answers "What CUPI scheme")."""
    m = _MODIFIED_FOCUS.search(question)
    if not m:
        return False
    named = rf"\b{re.escape(m['mod'])}\s+(?:['‘“\"][^'’”\"]{{3,80}}['’”\"]|[A-Z][\w-]+(?:\s+[A-Z][\w-]+)*)"
    return re.search(named, sentence) is not None


def abstain_text(missing: str | None, closest: str | None) -> str:
    """A short, honest refusal that says what was looked for and where."""
    text = ABSTAIN_TEXT
    if closest:
        text += f" The closest entry is “{closest}”"
        text += f", but it does not give {missing}." if missing and missing != "a passage on this topic" else "."
    return text


@dataclass
class Candidate:
    """A sentence of a retrieved passage, with the features that score it."""

    text: str
    hit: Hit
    order: int  # position of the sentence in its passage
    start: int  # offset of the sentence in its passage's text
    sim: float = 0.0  # cosine between question and sentence embeddings
    lex: float = 0.0  # weighted share of the question's terms in the sentence
    beyond: float = 0.0  # ... of those not already in its passage's title (those count TITLE_TERM as much)
    asked: float = 0.0  # ... of those not in its passage's title at all: the part the question asks about
    ctx: float = 0.0  # ... in its passage (with title and section)
    near: float = 0.0  # what `beyond` gains when words close in meaning count (`Terms.related`): paraphrases
    typed: float = 0.0  # holds a new fact of the kind asked for (a name for "who", a year for "when"...)
    focus: float = 0.0  # contains the noun the question asks for ("which council priorities" → priorities)
    cue: float = 0.0  # uses the words of the kind of answer asked for ("how was it gathered" → "survey")
    prior: float = 0.0  # retrieval score of its passage, relative to the best
    title: float = 0.0  # it is the entry's title line (echoes the question, rarely answers it)
    field: float = 0.0  # it is a "Keywords:" line
    short: float = 0.0  # fewer than five words
    score: float = 0.0


class Extractive:
    """Answers from the retrieved passages without an LLM."""

    def __init__(
        self,
        settings: Settings,
        embedder: BaseEmbedder,
        index: KeywordIndex | None,
        threshold: float | None = None,
        entries: Sequence[Entry] = (),
    ) -> None:
        """`entries`: the catalogue, so that a name is looked for in the best sentence's own entry, not in a
        neighbouring entry of the same file."""
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.threshold = settings.abstain_threshold if threshold is None else threshold
        self.entry_chunks = {e.entry_id: e.chunk_ids for e in entries}

    def candidates(self, question: str, hits: list[Hit], context: str | None = None) -> list[Candidate]:
        """All sentences of the hits, scored and sorted best first.

        `context` is the earlier question a follow-up leans on; its terms count half.
        """
        asks = _LineGate(question)
        cands = [
            Candidate(text=hit.chunk.text[s:e], hit=hit, order=order, start=s)
            for hit in hits
            for order, (s, e) in enumerate(sentence_spans(hit.chunk.text))
            if not addresses_the_model(hit.chunk.text[s:e]) and asks.allows(hit.chunk, s, e)
        ]
        if not cands:
            return []
        terms = with_context(question_terms(question, self.index), context, self.index)
        terms.related = self._related(terms, question, context, hits)
        kind = answer_type(question)
        focus = _focus_stems(question)
        focus_alt = _focus_alternatives(question, focus)
        subjects = {h.chunk.id: _pronoun_subjects(h.chunk) for h in hits}
        expanded = [_expand(c.text, c.hit.chunk.text, subjects[c.hit.chunk.id].get(c.start)) for c in cands]
        # Meaning is judged on the sentence in its entry ("Title: sentence"), as a reader sees it: a sentence
        # that does not repeat its entry's name ("The evaluators recommended…") is not outscored by one that does.
        vecs = self.embedder.embed_cached([_in_entry(x, c.hit.chunk.title) for x, c in zip(expanded, cands)])
        sims = vecs @ self.embedder.embed_one(question)
        if context:  # the question itself must weigh as much as the conversation it leans on
            sims = (sims + vecs @ self.embedder.embed_one(f"{context} {question}")) / 2
        sent_tokens = tokenize(expanded)
        # a sentence under a heading is about what the heading names ("ADVISORY GROUP" / "We brought together
        # a range of commissioners…"): the heading's words count as the sentence's own
        # (for the share of the question's words only: the noun asked for must be in the sentence itself)
        headed = tokenize([_heading_of(c) for c in cands])
        ctx_tokens = {h.chunk.id: set(tokenize([h.chunk.embed_text])[0]) for h in hits}
        asked = {h.chunk.id: _asked_terms(terms, h.chunk) for h in hits}
        # a title word the sentence repeats still tells it apart from its entry's other sentences ("Cultural:
        # co-ordinated by…" in "Imagine: the social, historical, cultural and democratic context…")
        leaning = {h.chunk.id: _asked_terms(terms, h.chunk, TITLE_TERM) for h in hits}
        top = max(h.score for h in hits) or 1.0
        topical = bool(_TOPIC_WORDS.search(question))
        counted = _other_words_for(focus_word(question))
        wants = {h.chunk.title: intents(question, h.chunk.title) for h in hits}
        for cand, sim, words, heading in zip(cands, sims, sent_tokens, headed):
            toks, under = set(words), set(words + heading)
            cand.sim = float(sim)
            cand.lex = terms.coverage(under)
            own = asked[cand.hit.chunk.id]
            cand.asked = own.coverage(under) if own.weights else 1.0
            cand.beyond = leaning[cand.hit.chunk.id].coverage(under) if own.weights else 1.0
            cand.near = leaning[cand.hit.chunk.id].coverage(under, related=True) - cand.beyond if own.weights else 0.0
            cand.ctx = terms.coverage(ctx_tokens[cand.hit.chunk.id])
            cand.typed = 1.0 if has_new_fact(cand.text, question, kind, counted) else 0.0
            cand.focus = 0.5 if not focus else (1.0 if focus & toks else SYNONYM_WEIGHT if focus_alt & toks else 0.0)
            intent = wants[cand.hit.chunk.title]
            cand.cue = 0.5 if not intent else (1.0 if gives_intent(cand.text, intent) else 0.0)
            cand.prior = cand.hit.score / top
            cand.title = (
                1.0
                if _is_title_line(cand.text, cand.hit.chunk.title, _section(cand.hit.chunk))
                and kind not in ("date", "duration")
                else 0.0
            )
            cand.field = 1.0 if cand.text.lower().startswith("keywords") and not topical else 0.0
            cand.short = 1.0 if len(cand.text.split()) < 5 else 0.0
            cand.score = sum(w * getattr(cand, f) for f, w in WEIGHTS.items())
        return sorted(cands, key=lambda c: c.score, reverse=True)

    def ranked(
        self, question: str, hits: list[Hit], context: str | None = None, named: str | None = None
    ) -> list[Candidate]:
        """Candidates best first, with a close runner-up holding the asked kind of fact moved to the front,
        and the best sentence of an entry that mentions the question's names before one of an entry that
        does not ("Do Bovaird and Martin treat…" is answered from their chapter, or declined). `named`: text
        whose names count as the question's (the first part of a question in parts)."""
        cands = _prefer_intent(self.candidates(question, hits, context))
        cands = _prefer_finer_date(question, _prefer_focused(question, _prefer_typed(question, cands)))
        cands = _the_instance_asked(question, cands)
        if not cands:
            return cands
        verdicts: dict[tuple[str, object], str | None] = {}

        def unmentioned(c: Candidate) -> str | None:
            key = (c.hit.chunk.source, c.hit.chunk.metadata.get("entry_id"))
            if key not in verdicts:
                passages = _entry_passages(hits, c.hit.chunk)
                verdicts[key] = _unmentioned_name(_with_names(question, named), passages, self.index, self.entry_chunks)
            return verdicts[key]

        if unmentioned(cands[0]):
            cands = _to_front(cands, next((c for c in cands if not unmentioned(c)), None))
        return cands

    def judge(self, question: str, hits: list[Hit], cands: list[Candidate], named: str | None = None) -> Judgement:
        """Decide how far the best sentence can be trusted to answer the question (`named`: see `ranked`)."""
        if not cands:
            return Judgement(dict.fromkeys(ABSTAIN_WEIGHTS, 0.0), "a passage on this topic", 0.0)
        best = cands[0]
        terms = question_terms(question, self.index)
        total = sum(terms.weights.values()) or 1.0
        unknown = sum(w for t, w in terms.weights.items() if not self._known(t, terms))
        subject = _pronoun_subjects(best.hit.chunk).get(best.start)
        best_tokens = set(tokenize([_expand(best.text, best.hit.chunk.text, subject)])[0])
        signals = {
            "beyond": 1.0 if is_overview(question) else best.asked,  # "tell me about X" asks nothing beyond X
            "score": best.score - WEIGHTS["near"] * best.near,  # the model was fit before `near` was scored
            "support": best.ctx,
            "lex": best.lex,
            "dense": max((h.dense or 0.0) for h in hits),
            "unknown": unknown / total,
            "offtopic": max(c.ctx for c in cands) - best.ctx,
            "sim": best.sim,
        }
        z = ABSTAIN_BIAS + sum(ABSTAIN_WEIGHTS[k] * signals[k] for k in ABSTAIN_WEIGHTS)
        entry = _entry_passages(hits, best.hit.chunk)
        missing = _missing(question, best, best_tokens, entry, self.index, named, self.entry_chunks)
        return Judgement(signals, missing, 1.0 / (1.0 + math.exp(-z)))

    def _related(self, terms: Terms, question: str, context: str | None, hits: list[Hit]) -> dict[str, set[str]]:
        """The passages' words close in meaning to the question's terms, besides their listed synonyms."""
        asked = {s: w for s, w in surface_words([question, context or ""]).items() if s in terms.weights}
        listed = set().union(*terms.alternatives.values()) if terms.alternatives else set()
        offered = surface_words(h.chunk.embed_text for h in hits)
        return related_stems(self.embedder, asked, offered, exclude=listed)

    def _known(self, term: str, terms: Terms) -> bool:
        """The knowledge base has the term, or a synonym of it ("ran": "run")."""
        if self.index is None:
            return True
        return any(self.index.doc_freq(t) > 0 for t in (term, *terms.alternatives.get(term, ())))

    def answer(
        self,
        question: str,
        hits: list[Hit],
        context: str | None = None,
        part_hits: list[list[Hit]] | None = None,
        anchor: str | None = None,
    ) -> Answer:
        """The best sentences for the question (each part of a two-part question), or an abstention.

        `part_hits`: passages retrieved for each part on its own, offered to that part beside `hits`;
        `anchor`: the sentence the conversation's last answer opened with.
        """
        started = time.perf_counter()
        answer = self._answer(question, hits, context, part_hits or [], anchor)
        answer.timings = {"answer_ms": _ms(started)}
        flagged = sum(addresses_the_model(s) for h in hits for s in sentences(h.chunk.text))
        if flagged:
            answer.notice = instructions_notice(flagged)
        return answer

    def _answer(
        self, question: str, hits: list[Hit], context: str | None, part_hits: list[list[Hit]], follows: str | None
    ) -> Answer:
        parts = _parts_of(question)
        chosen: list[Candidate] = []
        unanswered: list[str] = []
        first: Judgement | None = None
        closest: str | None = None
        for i, part in enumerate(parts):  # "…, and when?": each part from its own best sentence
            pool = _with_hits(hits, part_hits[i] if i < len(part_hits) else [])
            # a later part leans on the first ("…, and which one is more common?"); the first stands on its own
            # …and about what the first names: "How much did Newcastle's project get, and from which funder?"
            named = parts[0] if i else None
            cands = self.ranked(part, pool, _join_context(context, parts[0]) if i else context, named)
            anchor = (chosen[0].text if chosen else None) if i else follows  # what "it" may point back to
            if anchor and REFERS_BACK.search(part):
                cands = _prefer_following(part, anchor, cands, quoted=frozenset(c.text for c in chosen))
            verdict = self.judge(part, pool, cands, named)
            picked = self._pick(question, i, cands, chosen, pool) if verdict.confident(self.threshold) else []
            unsaid = _unsaid_verb(part, picked)
            if unsaid:
                verdict = dataclasses.replace(verdict, missing=unsaid)
            first = first or verdict
            closest = closest or (cands[0].hit.chunk.title if cands else None)
            if not picked or unsaid:
                unanswered.append(part)
                continue
            chosen += [c for c in picked if c.text not in {x.text for x in chosen}]
        assert first is not None
        if not chosen:
            text = abstain_text(first.missing, closest)
            return Answer(question, text, [], status="abstained", confidence=first.confidence)
        text, citations = compose(chosen)
        if unanswered:  # say which part is not answered rather than declining the whole question
            text += " " + not_answered(unanswered)
        return Answer(question, text, citations, confidence=first.confidence)

    def _pick(
        self, question: str, i: int, cands: list[Candidate], chosen: list[Candidate], pool: list[Hit]
    ) -> list[Candidate]:
        """The sentences that answer part `i` of the question (`pool`: the passages they come from)."""
        if i == 0:
            return _overview(cands[0]) if is_overview(question) else self.select(cands, pool, asks_for_all(question))
        # a later part: its best sentence — or, if the answer already quotes that one, its best new one nearly
        # as good
        fresh = next((c for c in cands if c.text not in {x.text for x in chosen}), cands[0])
        best = cands[0] if cands[0].text not in {x.text for x in chosen} else fresh
        if best.score < PART_RUNNER_UP * cands[0].score:
            best = cands[0]
        return _with_list_items(_with_enumeration([best]), pool)

    def select(self, cands: list[Candidate], pool: Sequence[Hit] = (), every: bool = False) -> list[Candidate]:
        """The best sentence, plus close runners-up that add something new; lists keep their items. `every`:
        the question asks for all of something ("list everyone who…"), so twice as many sentences may join."""
        best = cands[0]
        chosen = [best]
        seen = _words(best.text)
        most = self.settings.answer_max_sentences * (2 if every else 1)
        for cand in cands[1:]:
            if len(chosen) >= most or cand.score < self.settings.answer_runner_up * best.score:
                break
            if cand.text.rstrip().endswith(":"):
                continue  # "…a range of activities:" as a runner-up brings a whole list the question did not ask for
            if _plain_score(cand) < self.settings.answer_runner_up * _plain_score(best):
                # close only by repeating the entry's title, or by words near the question's in meaning: they
                # choose the best, they add nothing
                continue
            words = _words(cand.text)
            if len(words & seen) > 0.6 * min(len(words), len(seen) or 1):
                continue  # says the same thing again
            if cand.hit.chunk.metadata.get("entry_id") != best.hit.chunk.metadata.get("entry_id") and (
                cand.ctx < ON_TOPIC * best.ctx
            ):
                continue  # another entry that is less about what the question names
            chosen.append(cand)
            seen |= words
        return _with_list_items(_with_enumeration(chosen), pool)


def _parts_of(question: str) -> list[str]:
    """The parts the extractive answerer answers one by one: those of `split_parts`, or — a question no other
    answerer split — the two of a shared-predicate wh-pair ("When and where did the jury meet?")."""
    parts = split_parts(question)
    return parts if len(parts) > 1 else wh_pair_parts(question) or parts


def _plain_score(cand: Candidate) -> float:
    """The sentence's score without the share its title words (see TITLE_TERM) and its words related to the
    question's in meaning (`near`) give it."""
    return cand.score - WEIGHTS["beyond"] * (cand.beyond - cand.asked) - WEIGHTS["near"] * cand.near


def _the_instance_asked(question: str, cands: list[Candidate]) -> list[Candidate]:
    """ "The second workshop" is "Workshop 2": a sentence naming another numbered workshop is about something
    else (left out), and the best one naming Workshop 2 goes first if it scores ORDINAL_WITHIN of the best."""
    asked = ordinal_instance(question)
    if asked is None or not cands:
        return cands
    noun, n = asked
    numbers = {id(c): numbered_instances(c.text, noun) for c in cands}
    kept = [c for c in cands if not numbers[id(c)] or n in numbers[id(c)]]
    named = next((c for c in kept if n in numbers[id(c)]), None)
    if named is not None and named.score >= ORDINAL_WITHIN * cands[0].score:
        return _to_front(kept, named)
    return kept


def _to_front(cands: list[Candidate], chosen: Candidate | None) -> list[Candidate]:
    """`cands` with `chosen` (if any) moved to the front."""
    return cands if chosen is None else [chosen, *(c for c in cands if c is not chosen)]


def _with_hits(hits: list[Hit], more: list[Hit]) -> list[Hit]:
    """`hits`, then those of `more` not among them."""
    seen = {h.chunk.id for h in hits}
    return hits + [h for h in more if h.chunk.id not in seen]


_NAME_AFTER_START = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+")  # a capitalised word past the first


def _prefer_following(
    part: str,
    anchor: str,
    cands: list[Candidate],
    within: float = 0.9,
    continuing: float = 0.6,
    quoted: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """A question that points back ("who ran its cultural strand, and which town did it look at?", or "What
    did that package focus on?" after an answer) asks about what the sentence just quoted (`anchor`) is about:
    a sentence right after it in its passage, holding the kind of fact asked for and scoring nearly as well as
    the best (`within`; `continuing` when it opens with a pronoun, "This focused on…"), goes first — unless
    the answer already `quoted` it for an earlier part."""
    if not cands:
        return cands
    kind = answer_type(part)
    own_subject = bool(_NAME_AFTER_START.search(part))

    def distance(c: Candidate) -> int | None:  # (overlapping passages hold the same sentences: compare by text)
        # (a pronoun opening is no leeway when the part names its own subject and asks for no kind of fact:
        # "what does the What Works Scotland briefing say mainstreaming it requires?" is not answered by the
        # sentence after the definition of PB, "This democratic innovation originated…")
        share = continuing if _PRONOUN_START.match(c.text) and (kind or not own_subject) else within
        if c.score < share * cands[0].score or (kind and not c.typed) or anchor not in c.hit.chunk.text:
            return None
        if c.focus < cands[0].focus:
            return None  # the best names the noun asked for ("…what kinds of impacts does it identify?"), it does not
        if c.text in quoted:
            return None
        texts = [c.hit.chunk.text[s:e] for s, e in sentence_spans(c.hit.chunk.text)]
        gap = c.order - texts.index(anchor) if anchor in texts else 0
        return gap if 0 < gap <= 2 else None

    near = [(gap, n) for n, c in enumerate(cands) if (gap := distance(c)) is not None]
    if not near:
        return cands
    return _to_front(cands, cands[min(near)[1]])  # the nearest, then the best scoring


def _prefer_focused(question: str, cands: list[Candidate], within: float = 0.7) -> list[Candidate]:
    """When the best sentence lacks the noun asked for ("which sectors…"), it would be declined: a runner-up
    that has the noun (and the kind of fact asked for) and scores within reach of it goes first instead; so
    does one with the noun itself before one with only a synonym of it ("focused on" for "which priorities")."""
    if not cands or not _focus_stems(question) or cands[0].focus >= 1.0:
        return cands
    top, kind = cands[0], answer_type(question)
    better = next(
        (c for c in cands[1:] if c.focus > top.focus and (c.typed or not kind) and c.score >= within * top.score), None
    )
    return _to_front(cands, better)


def _prefer_intent(cands: list[Candidate], within: float = DATED_WITHIN) -> list[Candidate]:
    """When the best sentence lacks the words of the kind of answer asked for (a role, a purpose, a finding…:
    `cue`), a runner-up of its own entry that has them and scores within reach goes first ("…partner role?":
    "This new partner's role is to support…", not "We supported the council in defining the role…")."""
    if not cands or cands[0].cue != 0.0:
        return cands
    top, entry = cands[0], cands[0].hit.chunk.metadata.get("entry_id")
    better = next(
        (
            c
            for c in cands[1:]
            if c.cue == 1.0
            and c.typed >= top.typed
            and c.hit.chunk.metadata.get("entry_id") == entry
            and c.score >= within * top.score
        ),
        None,
    )
    return _to_front(cands, better)


def _prefer_typed(question: str, cands: list[Candidate], within: float = 0.95) -> list[Candidate]:
    """When the best sentence lacks the kind of fact asked for, a close runner-up that has it goes first.

    "How long" is answered by an entry's own span: the title line with its years ("X (2012 – 2032)")
    goes first whenever the best sentence comes from that entry. Short lines rank low on meaning, so a
    sentence of the same entry with a date, a number or a person named as one (a title, "by First Last")
    needs to be less close; a role or an organisation does not: that let out-of-scope traps through (measured).
    """
    kind = answer_type(question)
    if not cands or cands[0].typed or kind is None:
        return cands
    top, entry = cands[0].score, cands[0].hit.chunk.metadata.get("entry_id")

    def qualifies(c: Candidate) -> bool:
        if c.hit.chunk.metadata.get("entry_id") == entry:
            if kind == "duration":
                return _is_title_line(c.text, c.hit.chunk.title)
            if kind == "date" and (len(c.text.split()) <= DATE_LINE_WORDS or _is_title_line(c.text, c.hit.chunk.title)):
                # the entry's date line ("December 2018"), or its title line with its years, says when
                return c.score >= DATE_LINE_WITHIN * top
            if kind in ("date", "number"):  # a sentence of the same entry that dates it, or gives the number
                return c.score >= DATED_WITHIN * top  # ("approx. 5000 civil servants")
            if kind == "person" and names_a_person(c.text):  # …or names a person ("Historical: co-ordinated by
                return c.score >= DATED_WITHIN * top  # Professor Sarah Banks" for "who ran the historical…")
        return c.score >= within * top

    # of the runners-up that qualify, the one saying most of what the question asks beyond the entry's title
    # ("who co-ordinated the cultural work package?": "Cultural: co-ordinated by…", not "Social: co-ordinated by…")
    fit = [c for c in cands[1:] if c.typed and qualifies(c)]
    better = max(fit, key=lambda c: (round(c.beyond, 2), c.score)) if fit else None
    return _to_front(cands, better)


def _prefer_finer_date(question: str, cands: list[Candidate]) -> list[Candidate]:
    """ "When was X dated?" answered by X's title line with a year: the entry's own date line giving the month of
    that year ("December 2018" under "Mainstreaming … (2018)") goes first, and the title line still follows."""
    if not cands or answer_type(question) != "date" or not _is_title_line(cands[0].text, cands[0].hit.chunk.title):
        return cands
    years = set(re.findall(r"\b(?:19|20)\d\d\b", cands[0].text))
    entry = cands[0].hit.chunk.metadata.get("entry_id")
    finer = next(
        (
            c
            for c in cands[1:]
            if c.hit.chunk.metadata.get("entry_id") == entry
            and len(c.text.split()) <= DATE_LINE_WORDS
            and any(re.search(rf"\b{MONTH}\s+{y}\b", c.text) for y in years)
        ),
        None,
    )
    return _to_front(cands, finer)


class _LineGate:
    """Which lines of a passage may be quoted for a question. Prose always; a title line too (it scores low
    unless a date is asked for); a field line ("Contributed by: …", "Research report: …") only when the
    question asks for that field (its label's words, or synonyms, are in the question); a fragment (a bare
    heading such as "Cornwall Council", "Links currently unavailable", a date) only when it holds the noun
    the question asks for. So metadata never pads an answer to a question about something else."""

    def __init__(self, question: str) -> None:
        stems = set(tokenize([question])[0])
        syn = _synonym_stems()
        self.stems = stems | {alt for s in stems for alt in syn.get(s, set())}
        word = focus_word(question)
        self.focus = set(tokenize([word])[0]) if word else set()  # "which journal": type nouns count here
        self.titled = asks_for_text(question) in ("title", "titles")  # a bare line in a list of publications is a title
        self.topical = bool(_TOPIC_WORDS.search(question))
        self.question = question
        kind = answer_type(question)
        self.dated, self.who = kind == "date", kind == "person"

    def allows(self, chunk: Chunk, start: int, end: int) -> bool:
        line = _line_at(chunk.text, start, end)
        kind = line_kind(line)
        if kind == "prose" or _is_title_line(chunk.text[start:end], chunk.title, _section(chunk)):
            return True
        if kind == "field":
            label, value = field_line(line) or ("", "")
            if not value:
                return False  # "Related publications:" heads a list; the records answer for it
            if re.fullmatch(r"keywords?", label, re.I):
                return self.topical
            # its label's head noun is asked for ("which report"), or another label word is and the question
            # asks who ("Lead Research Organisation" answers "who led the research", not "how was the research done")
            words = tokenize([label])[0]
            words = words[:-1] if len(words) > 1 and words[-1] == "name" else words  # "Department Name: …"
            return bool(words) and (words[-1] in self.stems or (self.who and bool(set(words) & self.stems)))
        if self.dated and has_new_fact(line, self.question, "date"):
            return True  # "2008", "Journal of Social Policy, 2014": the date a title was published
        return self.titled or bool(self.focus & set(tokenize([line])[0]))


def _line_at(text: str, start: int, end: int) -> str:
    """The whole line of `text` that holds the span start:end."""
    stop = text.find("\n", end)
    return text[text.rfind("\n", 0, start) + 1 : stop if stop != -1 else len(text)]


def _heading_of(cand: Candidate) -> str:
    """The heading a sentence sits under, when its passage opens with it and no other line comes between
    the heading and the sentence's paragraph ("ADVISORY GROUP\n\nWe brought together…"); else ""."""
    section = _section(cand.hit.chunk)
    text = cand.hit.chunk.text
    if not section or section == cand.hit.chunk.title or not text.startswith(section):
        return ""
    between = text[len(section) : cand.start]
    return section if between.count("\n\n") <= 1 else ""


def _section(chunk: Chunk) -> str | None:
    section = chunk.metadata.get("section")
    return section if isinstance(section, str) else None


def _join_context(*texts: str | None) -> str | None:
    return " ".join(t for t in texts if t) or None


def _overview(best: Candidate, sentences: int = 2) -> list[Candidate]:
    """For "tell me about X": the best sentence and the ones after it (a title line is skipped)."""
    text = best.hit.chunk.text
    spans = sentence_spans(text)
    out: list[Candidate] = []
    for s, e in spans[best.order :]:
        piece = text[s:e]
        if addresses_the_model(piece):
            continue
        if (
            _is_title_line(piece, best.hit.chunk.title, _section(best.hit.chunk))
            or line_kind(_line_at(text, s, e)) != "prose"
        ):
            if out:
                break
            continue
        out.append(Candidate(text=piece, hit=best.hit, order=len(out), start=s, score=best.score))
        if len(out) >= sentences:
            break
    return out or [best]


_ANNOUNCES = re.compile(
    r"\b(?:two|three|four|five|six|2|3|4|5|6)\s+(?:[\w-]+\s+){0,2}?(?:forms|types|kinds|ways|parts|strands|sources|stages"
    r"|options|approaches|dimensions|elements|groups|levels|steps|phases|areas|themes|aims|reasons)\b",
    re.IGNORECASE,
)
_ENUMERATED = re.compile(r"^(?:the\s+)?(?:first|second|third|fourth|other|last|another|finally|next)\b", re.IGNORECASE)


def _with_enumeration(chosen: list[Candidate]) -> list[Candidate]:
    """A sentence that announces a count ("Co-production comes in two familiar forms.") brings the sentences
    that enumerate them ("The first is …", "The other is …"), which its passage puts right after it."""
    out: list[Candidate] = []
    for cand in chosen:
        out.append(cand)
        if cand.order < 0 or not _ANNOUNCES.search(cand.text):
            continue
        text = cand.hit.chunk.text
        for s, e in sentence_spans(text)[cand.order + 1 : cand.order + 5]:
            piece = text[s:e]
            if not _ENUMERATED.match(piece) or addresses_the_model(piece):
                break
            if all(piece != c.text for c in chosen):
                out.append(Candidate(text=piece, hit=cand.hit, order=-1, start=s, score=cand.score))
    return out


def not_answered(parts: list[str]) -> str:
    """The sentence saying which parts of a question the knowledge base does not answer."""
    quoted = " or ".join(f"“{p.strip().rstrip('?.').strip()}”" for p in parts)
    return f"(The knowledge base does not answer {quoted}.)"


LIST_ITEMS = 8  # the most items a lead-in brings along
ITEM_NOTES = 3  # sentences of description under one item that are skipped to reach the next


def _with_list_items(chosen: list[Candidate], pool: Sequence[Hit] = ()) -> list[Candidate]:
    """A chosen sentence that introduces a list ("...activities:") brings the list's items along; `pool`:
    the retrieved passages, where the list goes on when the lead-in ends its own passage."""
    out: list[Candidate] = []
    for cand in chosen:
        if any(c.text.strip() == cand.text.strip() for c in out):
            continue  # a runner-up that is an item of a list already brought along
        out.append(cand)
        if cand.text.rstrip().endswith(":"):
            out += [
                Candidate(text=t, hit=h, order=-1, start=s, score=cand.score) for t, h, s in _items_after(cand, pool)
            ]
    return out


def _items_after(lead: Candidate, pool: Sequence[Hit]) -> list[tuple[str, Hit, int]]:
    """The list items after a lead-in (text, passage, offset): bullets or numbers, each perhaps followed by a
    few sentences describing it ("1. Social: co-ordinated by … This focused on …"), which are skipped."""
    items: list[tuple[str, Hit, int]] = []
    notes = 0
    for hit, s, e in _following(lead, pool):
        text = hit.chunk.text[s:e]
        if BULLET.match(_line_at(hit.chunk.text, s, e).lstrip()):  # (its marker "1." may be a span apart)
            notes = 0
            if not addresses_the_model(text):
                items.append((text, hit, s))
            if len(items) == LIST_ITEMS:
                break
        elif items and notes < ITEM_NOTES:
            notes += 1  # a sentence describing the item before it
        else:
            break
    return items


def _following(lead: Candidate, pool: Sequence[Hit]) -> Iterator[tuple[Hit, int, int]]:
    """The sentence spans after `lead`, through its entry's next passages while they were retrieved (a list
    goes on across passages); sentences that overlapping passages repeat come once."""
    seen = {lead.text}
    hit: Hit | None = lead.hit
    after = lead.start
    while hit is not None:
        for s, e in sentence_spans(hit.chunk.text):
            if s > after and hit.chunk.text[s:e] not in seen:
                seen.add(hit.chunk.text[s:e])
                yield hit, s, e
        hit, after = _next_passage(hit.chunk, pool), -1


def _next_passage(chunk: Chunk, pool: Sequence[Hit]) -> Hit | None:
    index = chunk.metadata.get("chunk_index")
    if not isinstance(index, int):
        return None
    return next(
        (h for h in pool if h.chunk.source == chunk.source and h.chunk.metadata.get("chunk_index") == index + 1),
        None,
    )


def compose(chosen: list[Candidate]) -> tuple[str, list[Citation]]:
    """Join sentences with [n] markers; one citation per distinct passage, numbered in order, each
    highlighting the sentences quoted from it."""
    by_chunk: dict[str, Citation] = {}
    pieces = [f"{normalize_space(cand.text)} [{cite(cand, by_chunk).n}]" for cand in chosen]
    return _join(pieces), list(by_chunk.values())


def cite(cand: Candidate, by_chunk: dict[str, Citation]) -> Citation:
    """The citation of a quoted sentence's passage (numbered in order of first use), its sentence highlighted."""
    chunk = cand.hit.chunk
    if chunk.id not in by_chunk:
        by_chunk[chunk.id] = Citation(
            len(by_chunk) + 1,
            chunk.source,
            chunk.title,
            chunk.text,
            cand.hit.dense or 0.0,
            entry_id=chunk.metadata.get("entry_id"),
        )
    citation = by_chunk[chunk.id]
    span = (cand.start, cand.start + len(cand.text))
    if span not in citation.highlights:
        citation.highlights.append(span)
    return citation


def _join(pieces: list[str]) -> str:
    out = ""
    for piece in pieces:
        if not out:
            out = piece
        elif piece.startswith(("•", "-", "*")) or out.endswith(":"):
            out += "\n" + piece
        else:
            out += " " + piece
    return out


def _asked_terms(terms: Terms, chunk: Chunk, title_weight: float = 0.0) -> Terms:
    """The question's terms that the passage's title and section do not already name; those they name count
    `title_weight` as much."""
    topic = _topic_stems(chunk.title, chunk.metadata.get("section"))
    weights = {t: w * (title_weight if t in topic else 1.0) for t, w in terms.weights.items()}
    return Terms({t: w for t, w in weights.items() if w > 0}, terms.alternatives, terms.related)


@lru_cache(maxsize=1024)
def _topic_stems(title: str, section: str | None) -> frozenset[str]:
    """The stems of a passage's title and section (read for every question word of every passage)."""
    return frozenset(tokenize([" ".join(filter(None, [title, section]))])[0])


def _other_words_for(word: str | None) -> frozenset[str]:
    """The words of the synonym groups that hold `word` ("councils" → council, authority, authorities)."""
    if not word:
        return frozenset()
    return frozenset(w for line in SYNONYMS if word in line.split() for w in line.split())


def _focus_stems(question: str) -> set[str]:
    word = focus_word(question)
    if not word or word in TYPE_NOUNS or asks_for_text(question):  # "what year", "which people": the answer type
        return set()  # covers these; "what title", "which source": the answer is a title or a reference, not the word
    return set(tokenize([word])[0])


_PRONOUN_START = re.compile(r"^(?:It|Its|They|Their|This|These|He|His|She|Her)\b")


def _pronoun_subjects(chunk: Chunk) -> dict[int, str]:
    """Sentence start → the entry title its leading pronoun refers to, for sentences that continue a chain
    about the entry: "X is a … It was set up in 2017 … It has twelve members" (the title line or a sentence
    naming the title, then pronoun sentences). "The walks fed into the Flood Book. It sets out…" is not
    resolved: that "It" is the book, not the entry."""
    title = normalize_space(chunk.title).lower()
    name = re.sub(r"^the\s+", "", title)
    out: dict[int, str] = {}
    chained = False
    for s, e in sentence_spans(chunk.text):
        sentence = normalize_space(chunk.text[s:e])
        low = re.sub(r"^the\s+", "", sentence.lower())
        if _PRONOUN_START.match(sentence):
            if chained:
                out[s] = chunk.title
        else:
            chained = bool(name) and (low.startswith(name) or _is_title_line(sentence, chunk.title))
    return out


def _in_entry(sentence: str, title: str) -> str:
    """The sentence under its entry's title (unless it names the entry already)."""
    if not title or normalize_space(title).lower()[:40] in normalize_space(sentence).lower():
        return sentence
    return f"{title}: {sentence}"


def _expand(sentence: str, passage: str, subject: str | None = None) -> str:
    """The sentence as it is scored: abbreviations spelled out as its passage defines them ("PB" →
    "PB (participatory budgeting)") and a leading pronoun resolved to `subject`, the title of its entry
    ("It ran from 2015…" → "It (Marlow Fen Water Voices) ran from 2015…")."""
    for abbr, long in abbreviations(passage).items():
        if re.search(rf"\b{abbr}\b", sentence) and long.lower() not in sentence.lower():
            sentence = re.sub(rf"\b{abbr}\b", f"{abbr} ({long})", sentence, count=1)
    if subject and (m := _PRONOUN_START.match(sentence)):
        sentence = f"{m.group()} ({subject}){sentence[m.end() :]}"
    return sentence


_AFTER_TITLE = re.compile(r"^[\s.:,;–—-]*(?:\([^()]{0,40}\))?[\s.]*$")


def _is_title_line(sentence: str, title: str, section: str | None = None) -> bool:
    """Is the sentence the entry's (or section's) title line — the title and at most a date in brackets?
    "Marlow Fen Water Voices was a co-produced…" starts with its title but is the defining sentence."""
    s = normalize_space(sentence).lower()
    for name in (title, section):
        t = normalize_space(name or "").lower()
        if not t:
            continue
        if t.startswith(s.rstrip(".?")) and len(s) >= min(len(t), 12):
            return True
        if s.startswith(t) and _AFTER_TITLE.match(s[len(t) :]):
            return True
    return False


def _words(text: str) -> set[str]:
    return {w for w in normalize_space(text).lower().split() if len(w) > 3}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class ExtractiveAnswerer:
    """The default answerer: retrieve, then quote the best sentences verbatim, each cited; or decline."""

    name = "extractive"

    def __init__(self, context: Context) -> None:
        self.context = context

    def accepts(self, request: Request) -> bool:
        return True

    def stream(self, request: Request) -> Iterator[Event]:
        answer, _ = self.answer(request)
        yield TextDelta(answer.answer)
        yield Final(answer)

    def _named(self, request: Request, entries: list[Entry]) -> list[Entry]:
        """The entries (of the catalogue `entries`) the question names by title, if it names one or two."""
        named = best_mentions(request.question, entries)
        return named if len(named) <= 2 else []

    def _with_rest_of_entry(self, hits: list[Hit], entries: list[Entry]) -> list[Hit]:
        """When two or more of the passages found are one short entry's, its other passages too (ranked last):
        the sentence that answers may sit in the one passage of the entry that shares no word with the question."""
        counts = Counter(h.chunk.metadata.get("entry_id") for h in hits)
        if not counts:
            return hits
        entry_id, n = counts.most_common(1)[0]
        entry = next((e for e in entries if e.entry_id == entry_id), None)
        if entry is None or n < ENTRY_MAJORITY:
            return hits
        seen = {h.chunk.id for h in hits}
        rest = [cid for cid in entry.chunk_ids if cid not in seen]
        if not rest or len(rest) > ENTRY_REST_MAX:
            return hits  # a long entry: its other passages are as likely to be about something else
        floor = min(h.score for h in hits)
        found = self.context.chunks(rest)
        return hits + [Hit(chunk=found[cid][0], score=floor) for cid in rest if cid in found]

    def _part_hits(self, request: Request) -> list[list[Hit]]:
        """For a question in parts, the passages each part finds on its own: "How many organisations took part
        in the Manchester study, and how much was Imagine awarded?" needs passages the whole question does not
        rank in its top k. A later part that points back ("…, and where did it run?") is searched with the first."""
        parts = _parts_of(request.question)
        if len(parts) < 2:
            return []
        found: list[list[Hit]] = []
        for i, part in enumerate(parts):
            follow = FollowUp(part, parts[0] if i and REFERS_BACK.search(part) else None)
            found.append(self.context.retrieve_for(follow, request.k, request.filters))
        return found

    def answer(self, request: Request) -> tuple[Answer, list[Hit]]:
        """The answer and the hits it was chosen from (the LLM answerer builds on both)."""
        started = time.perf_counter()
        hits = self.context.retrieve_for(request.follow, request.k, request.filters)
        retrieve_ms = _ms(started)
        ctx = self.context
        entries = ctx.entries(request.filters)
        hits = self._with_rest_of_entry(hits, entries)
        answerer = Extractive(ctx.settings, ctx.embedder, ctx.keyword_index, request.abstain_threshold, entries)
        answer = None
        # A follow-up is answered from the entries in focus first, and a question that names an entry
        # ("the Enabling Social Action guidance work") from that entry first: a sentence of a neighbouring
        # entry that happens to score higher is about something else.
        in_focus = set(request.follow.entry_ids) or {e.entry_id for e in self._named(request, entries)}
        focus = [h for h in hits if h.chunk.metadata.get("entry_id") in in_focus]
        part_hits = self._part_hits(request)
        if focus and len(focus) < len(hits):
            answer = answerer.answer(request.question, focus, request.follow.context, part_hits, request.follow.anchor)
            if answer.abstained:
                answer = None
        if answer is None:
            answer = answerer.answer(request.question, hits, request.follow.context, part_hits, request.follow.anchor)
        answer.timings = {"retrieve_ms": retrieve_ms, **answer.timings}
        if request.follow.standalone != request.question:
            answer.standalone_question = request.follow.standalone
        return answer, hits

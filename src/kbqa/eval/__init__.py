"""The evaluation harness: question sets, metrics computed without an LLM, optional LLM judges, runs
with resumable per-item records, self-contained HTML reports, run comparison and a CI gate.

dataset  → the question-set schema, loading and validation against the documents
metrics  → per-item and aggregate metrics, registered by name
judge    → faithfulness/correctness verdicts from any OpenAI-compatible endpoint
run      → a run config (TOML), answering every item through the public API, the run folder
report   → the HTML report of a run (and of a comparison)
compare  → metric deltas, paired significance, flipped items
export   → ragas / deepeval columns

Data flows one way: the harness calls the public API and reads its answers; nothing in kbqa
imports from here.
"""

"""Cold `kbqa ask` wall time with an existing index (target < 4 s), with interpreter start-up and imports.

    python benchmarks/cold_ask.py [--runs 5] [--against REV] [--json]

Builds an index of the corpus with `kbqa ingest` in a temporary folder, then runs
`kbqa ask "..."` (the console script beside this Python) as a fresh process
`--runs` times, alternating with `python -c pass` so both see the same machine load.
Also: one `kbqa ask --json` for the in-process split (retrieve_ms includes loading the
model and opening the indexes in a cold process), the five heaviest imports of
`import kbqa.cli; import kbqa.api`, and of a whole `kbqa ask` (which imports lazily).

`--against REV` also runs the kbqa source of git revision REV (same Python and packages, its own
index), alternating with this checkout's, and prints the ratio of their medians: "no slower than".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, emit, log, machine, machine_line, parser

TARGET_S = 4.0
QUESTION = "Which universities are partners in Phase 2 of the Enabling Social Action programme?"
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S.*)$")


def kbqa_script() -> str:
    beside = Path(sys.executable).parent / "kbqa"
    found = str(beside) if beside.exists() else shutil.which("kbqa")
    if not found:
        sys.exit("the `kbqa` console script is not installed beside this Python (pip install -e .)")
    return found


def run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc


# Runs the kbqa CLI from the source folder given as the first argument (ahead of the installed one).
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from kbqa.cli import main; sys.exit(main())"


def source_of(rev: str, into: Path) -> Path:
    """src/ of a git revision of this repository, extracted under `into`."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def against(rev: str, runs: int, cwd: Path) -> dict:
    """Cold asks of this checkout's source and REV's, alternated, each on an index its own code built."""
    python, here = sys.executable, str(Path(__file__).resolve().parent.parent / "src")
    old = str(source_of(rev, cwd))
    times: dict[str, list[float]] = {"this": [], rev: []}
    for name, src in (("this", here), (rev, old)):
        common = [python, "-c", BOOT, src, "--data-dir", str(cwd / f"data-{name}"), "--corpus-dir", str(CORPUS)]
        run([*common, "ingest"], cwd)
    for i in range(runs):
        for name, src in (("this", here), (rev, old)):
            common = [python, "-c", BOOT, src, "--data-dir", str(cwd / f"data-{name}"), "--corpus-dir", str(CORPUS)]
            seconds, _ = run([*common, "ask", QUESTION], cwd)
            times[name].append(seconds)
        log(f"run {i + 1}: this {times['this'][-1]:.2f} s, {rev} {times[rev][-1]:.2f} s")
    this_med, rev_med = statistics.median(times["this"]), statistics.median(times[rev])
    return {"rev": rev, "this_s": times["this"], "rev_s": times[rev], "ratio": round(this_med / rev_med, 3)}


def import_tree(stderr: str) -> list[dict]:
    """`-X importtime` lines → nodes with self/cumulative ms, parent, depth (lines come in post-order)."""
    nodes: list[dict] = []
    pending: list[dict] = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        node = {"name": m[4], "self_ms": int(m[1]) / 1000, "cum_ms": int(m[2]) / 1000, "level": len(m[3]) // 2}
        while pending and pending[-1]["level"] > node["level"]:
            pending.pop()["parent"] = node
        pending.append(node)
        nodes.append(node)
    return nodes


def heaviest(nodes: list[dict], n: int = 5) -> list[dict]:
    """The modules that kbqa (or the script itself) imports from outside kbqa, by cumulative time."""

    def own(node: dict | None) -> bool:
        return node is None or node["name"] == "kbqa" or node["name"].startswith("kbqa.")

    outside = [x for x in nodes if not own(x) and own(x.get("parent"))]
    best = sorted(outside, key=lambda x: -x["cum_ms"])[:n]
    return [
        {"module": x["name"], "cumulative_ms": round(x["cum_ms"], 1), "self_ms": round(x["self_ms"], 1)} for x in best
    ]


def roots_ms(nodes: list[dict], prefix: str = "") -> float:
    """Total import time: the top-level imports (those whose name starts with `prefix`)."""
    return sum(x["cum_ms"] for x in nodes if "parent" not in x and x["name"].startswith(prefix))


def main() -> int:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="cold `kbqa ask` processes (default 5)")
    p.add_argument("--against", metavar="REV", help="also compare with the kbqa source of this git revision")
    args = p.parse_args()

    kbqa = kbqa_script()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="kbqa-bench-cold-") as tmp:
        cwd = Path(tmp)
        data = cwd / "data"
        common = [kbqa, "--data-dir", str(data), "--corpus-dir", str(CORPUS)]
        log("building the index with `kbqa ingest`…")
        ingest_s, _ = run([*common, "ingest"], cwd)
        log(f"ingest took {ingest_s:.1f} s")

        ask_s, pass_s = [], []
        answer_text = ""
        for i in range(args.runs):
            seconds, _ = run([python, "-c", "pass"], cwd)
            pass_s.append(seconds)
            seconds, proc = run([*common, "ask", QUESTION], cwd)
            ask_s.append(seconds)
            answer_text = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
            log(f"run {i + 1}: kbqa ask {seconds:.2f} s, python -c pass {pass_s[-1] * 1000:.0f} ms")

        json_s, proc = run([*common, "ask", "--json", QUESTION], cwd)
        timings = json.loads(proc.stdout)["timings"]

        _, proc = run([python, "-X", "importtime", "-c", "import kbqa.cli; import kbqa.api"], cwd)
        static = import_tree(proc.stderr)
        env_cmd = [python, "-X", "importtime", "-m", "kbqa.cli", "--data-dir", str(data), "ask", QUESTION]
        full_s, proc = run(env_cmd, cwd)
        full = import_tree(proc.stderr)
        compared = against(args.against, args.runs, cwd) if args.against else None

    ask_min, ask_med = min(ask_s), statistics.median(ask_s)
    pass_min, pass_med = min(pass_s), statistics.median(pass_s)
    static_top, full_top = heaviest(static), heaviest(full)
    static_ms, full_ms = roots_ms(static, "kbqa"), roots_ms(full)

    result = {
        "benchmark": "cold_ask",
        "machine": machine(),
        "kbqa": kbqa,
        "question": QUESTION,
        "answer_first_line": answer_text,
        "ingest_s": round(ingest_s, 2),
        "ask_s": [round(s, 3) for s in ask_s],
        "ask_min_s": round(ask_min, 3),
        "ask_median_s": round(ask_med, 3),
        "python_pass_s": [round(s, 3) for s in pass_s],
        "python_pass_min_s": round(pass_min, 3),
        "python_pass_median_s": round(pass_med, 3),
        "target_s": TARGET_S,
        "median_to_target": round(ask_med / TARGET_S, 3),
        "meets_target": ask_med < TARGET_S,
        "ask_json_run": {"wall_s": round(json_s, 3), "timings_ms": timings},
        "imports_cli_api": {"total_ms": round(static_ms, 1), "heaviest": static_top},
        "imports_whole_ask": {
            "total_ms": round(full_ms, 1),
            "wall_s_with_importtime": round(full_s, 3),
            "heaviest": full_top,
        },
    }

    def top(rows: list[dict]) -> list[str]:
        return [f"      {r['module']:<34} {r['cumulative_ms']:7.1f} ms (self {r['self_ms']:.1f})" for r in rows]

    lines = [
        f"cold `kbqa ask` with an existing index ({args.runs} fresh processes, {machine()['cpus']} cores)",
        f"  kbqa ask          min {ask_min:5.2f} s  median {ask_med:5.2f} s  all: {', '.join(f'{s:.2f}' for s in ask_s)}",
        f"  python -c pass    min {pass_min * 1000:5.0f} ms median {pass_med * 1000:5.0f} ms",
        f"  vs target {TARGET_S:.0f} s     median {ask_med / TARGET_S:.2f}×, min {ask_min / TARGET_S:.2f}×  "
        f"({'PASS' if ask_med < TARGET_S else 'FAIL'}); start-up is {pass_med / ask_med:.1%} of it",
        f"  one --json run    {json_s:.2f} s wall; in-process retrieve {timings.get('retrieve_ms', 0):.0f} ms "
        f"(cold: model + indexes), answer {timings.get('answer_ms', 0):.0f} ms",
        f"  answer            {answer_text[:100]}",
        f"  imports of `import kbqa.cli; import kbqa.api`: {static_ms:.0f} ms; heaviest from outside kbqa:",
        *top(static_top),
        f"  imports of a whole `kbqa ask` (lazy ones included): {full_ms:.0f} ms "
        f"= {full_ms / 1000 / full_s:.0%} of that run's {full_s:.2f} s; heaviest:",
        *top(full_top),
    ]
    if compared:
        result["against"] = compared
        this_med, rev_med = statistics.median(compared["this_s"]), statistics.median(compared["rev_s"])
        lines.append(
            f"  vs {compared['rev']} (alternated, python -c from source): this {this_med:.2f} s, "
            f"{compared['rev']} {rev_med:.2f} s median: {compared['ratio']:.2f}×"
        )
    lines.append(machine_line())
    emit(args, result, lines)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

"""Seed robustness: re-execute every chapter with every seed shifted, list the claims that fail.

    python tools/seed_robustness.py                       # offsets 1000 and 2000, every chapter
    python tools/seed_robustness.py --offsets 7 --chapters chapters/02_ntk.ipynb --no-write
    python tools/seed_robustness.py --offsets 1000 --chapters chapters/04_gronwall.ipynb --update

For each offset a, copies of the chapters (never the stored notebooks) are executed in a scratch
directory with ``NTKLIB_SEED_OFFSET=a`` (ntklib adds a to every seed it turns into randomness:
network initializations, data subsets, Gaussian inputs, minibatches, bootstrap resamples) and
``NTKLIB_CLAIMS_LOG`` on (every stated claim appended as a JSON line), with errors allowed, so
that each notebook runs to its end and all of its failed claims are listed, not only the first.

Writes ``seed_robustness.json`` (per offset and chapter: the checked claims and whether each
held, the failed ones with the number shown, the measured value and the check, any cell error)
and ``seed_robustness.md`` (the same as a table, shown on the build-information page).
Exits 1 when any checked claim fails, a cell raises, or a claim of the stored chapter is not
stated by the re-execution; so ``make seeds`` is a test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REPORT_JSON = ROOT / "seed_robustness.json"
REPORT_MD = ROOT / "seed_robustness.md"
DEFAULT_OFFSETS = (1000, 2000)
# the claims table of claims.report() raises once any claim fails: listed per failure already
REPORT_ERROR = "claims failed"


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def stored_checked_claims(path: Path) -> list[str]:
    """Names of the checked claims in the stored outputs of ``path`` (in order)."""
    from ntklib.claims import Claim

    names = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("ntklib_claim")
            if meta and Claim(**meta).checked and meta["name"] not in names:
                names.append(meta["name"])
    return names


def read_log(path: Path) -> dict[str, dict]:
    """The logged claims by name (a claim stated twice keeps its last record)."""
    records = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["name"]] = record
    return records


def cell_errors(nb) -> list[dict]:
    """Every error output of the executed notebook: cell index, id, exception and message."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append({"cell": index, "id": cell.get("id"), "error": out["ename"],
                               "message": str(out["evalue"])[:500]})
    return errors


def run_chapter(path: Path, offset: int, scratch: Path, timeout: int) -> dict:
    """Execute a copy of ``path`` under ``scratch`` with seed offset ``offset``; its summary."""
    from nbclient import NotebookClient

    workdir = scratch / f"offset-{offset}"
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / path.name
    shutil.copyfile(path, copy)
    log = workdir / f"{path.stem}.claims.jsonl"
    log.unlink(missing_ok=True)
    nb = nbformat.read(str(copy), as_version=4)
    saved = {k: os.environ.get(k) for k in ("NTKLIB_SEED_OFFSET", "NTKLIB_CLAIMS_LOG")}
    os.environ.update(NTKLIB_SEED_OFFSET=str(offset), NTKLIB_CLAIMS_LOG=str(log))
    start = time.time()
    crash = None
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       record_timing=False, resources={"metadata": {"path": str(workdir)}}).execute()
    except Exception as exc:  # a timeout or a dead kernel: keep what was logged
        crash = f"{type(exc).__name__}: {str(exc)[-500:]}"
    finally:
        for k, value in saved.items():
            if value is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = value
    seconds = time.time() - start
    nbformat.write(nb, str(copy))
    logged = read_log(log)
    checked = {name: r["passed"] for name, r in logged.items() if r["checked"]}
    failed = [{key: r[key] for key in ("name", "shown", "measured", "check")}
              for r in logged.values() if r["checked"] and not r["passed"]]
    errors = [e for e in cell_errors(nb)
              if not (e["error"] == "AssertionError" and e["message"].startswith(REPORT_ERROR))]
    if crash:
        errors.append({"cell": None, "id": None, "error": "execution", "message": crash})
    missing = [name for name in stored_checked_claims(path) if name not in checked]
    return {"offset": offset, "chapter": path.stem, "seconds": round(seconds, 1),
            "checked": len(checked), "passed": sum(bool(p) for p in checked.values()),
            "failed": failed, "missing": missing, "errors": errors, "claims": checked}


def markdown(report: dict) -> str:
    """The report as Markdown: a summary line, one table row per offset and chapter, then every
    failed claim (number shown, measured value of a bound, check), unstated claim and cell error."""
    def text(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    failing = sum(run["checked"] - run["passed"] for run in report["runs"])
    total = sum(run["checked"] for run in report["runs"])
    out = [f"Seed offsets {', '.join(map(str, report['offsets']))} "
           f"(scale `{report['scale']}`, commit `{report['commit']}`, {report['date']}, "
           f"{report['seconds'] / 60:.1f} min for {len(report['runs'])} executions): "
           f"{total - failing} of {total} checked claims hold.", "",
           "| offset | chapter | checked claims | hold | fail | not stated | cell errors |",
           "|---:|---|---:|---:|---:|---:|---:|"]
    for run in report["runs"]:
        out.append(f"| {run['offset']} | {run['chapter']} | {run['checked']} | {run['passed']} | "
                   f"{run['checked'] - run['passed']} | {len(run['missing'])} | "
                   f"{len(run['errors'])} |")
    details = []
    for run in report["runs"]:
        for f in run["failed"]:
            bound = f["shown"].startswith(("<", ">")) and isinstance(f["measured"], float)
            measured = f" (measured {f['measured']:.3g})" if bound else ""
            details.append(f"- offset {run['offset']}, {run['chapter']}: `{f['name']}` = "
                           f"{text(f['shown'])}{measured}; check {text(f['check'])}")
        details += [f"- offset {run['offset']}, {run['chapter']}: `{name}` not stated"
                    for name in run["missing"]]
        details += [f"- offset {run['offset']}, {run['chapter']}: cell {e['cell']} raised "
                    f"{e['error']}: {text(e['message'][:200])}" for e in run["errors"]]
    if details:
        out += ["", "Failed claims, claims not stated and cell errors:", "", *details]
    return "\n".join(out) + "\n"


RUN_KEYS = {"offset", "chapter", "seconds", "checked", "passed", "failed", "missing", "errors",
            "claims"}


def report_problems(report: dict, stored: dict[str, list[str]]) -> list[str]:
    """What makes ``report`` no record of the chapters as they are (empty when it is one):
    fewer than two distinct non-zero offsets, a chapter or an (offset, chapter) run missing or
    extra, a run whose claims differ from the checked claims the stored chapter states now
    (``stored``: chapter → names; a stale report), or counts and failure lists that disagree
    with the per-claim results."""
    problems = []
    offsets = report.get("offsets", [])
    if len(set(offsets)) < 2 or len(set(offsets)) != len(offsets) or 0 in offsets:
        problems.append(f"offsets must be at least two distinct non-zero offsets, got {offsets}")
    if sorted(report.get("chapters", [])) != sorted(stored):
        problems.append(f"chapters {report.get('chapters')} are not the book's {sorted(stored)}")
    runs = {}
    for run in report.get("runs", []):
        if not RUN_KEYS <= set(run) <= RUN_KEYS | {"commit"}:  # commit: per run since --update
            problems.append(f"run {run.get('offset')}/{run.get('chapter')} has keys {sorted(run)}")
            continue
        runs[run["offset"], run["chapter"]] = run
    extra = sorted(set(runs) - {(o, ch) for o in offsets for ch in stored})
    if extra:
        problems.append(f"runs of no listed offset or chapter: {extra}")
    for offset in offsets:
        for chapter, names in stored.items():
            run = runs.get((offset, chapter))
            where = f"offset {offset}, {chapter}"
            if run is None:
                problems.append(f"{where}: not run")
                continue
            seen = set(run["claims"]) | set(run["missing"])
            if seen - set(names):
                problems.append(f"{where}: claims the chapter no longer states: "
                                f"{sorted(seen - set(names))}")
            if set(names) - seen:
                problems.append(f"{where}: claims of the chapter not in the report: "
                                f"{sorted(set(names) - seen)}")
            results = run["claims"]
            if run["checked"] != len(results) or run["passed"] != sum(map(bool, results.values())):
                problems.append(f"{where}: counts {run['passed']}/{run['checked']} disagree with "
                                "the per-claim results")
            failed = sorted(n for n, ok in results.items() if not ok)
            if sorted(f["name"] for f in run["failed"]) != failed:
                problems.append(f"{where}: failed list differs from the failed claims {failed}")
    return problems


def failures(report: dict) -> int:
    """Number of failed claims, claims not stated and cell errors over all runs."""
    return sum(len(r["failed"]) + len(r["missing"]) + len(r["errors"]) for r in report["runs"])


def updated(old: dict, new: dict) -> dict:
    """``old`` with its (offset, chapter) runs replaced by those of ``new`` (same scale; the
    offsets of ``new`` must be in ``old``; a chapter ``old`` does not have — a new chapter — is
    added, and must then be run at every offset of ``old``): each run keeps the commit it ran on,
    and the report's commit lists them all."""
    if new["scale"] != old["scale"]:
        raise SystemExit(f"--update: the report is at scale {old['scale']!r}, this run at {new['scale']!r}")
    unknown = sorted(set(new["offsets"]) - set(old["offsets"]))
    if unknown:
        raise SystemExit(f"--update: offsets {unknown} not in the report; run without --update")
    added = sorted(set(new["chapters"]) - set(old["chapters"]))
    if added and sorted(new["offsets"]) != sorted(old["offsets"]):
        raise SystemExit(f"--update: new chapters {added} must be run at every offset of the "
                         f"report, {old['offsets']}, not only {new['offsets']}")
    fresh = {(r["offset"], r["chapter"]): r for r in new["runs"]}
    runs = [fresh.pop((r["offset"], r["chapter"]), r) for r in old["runs"]]
    runs += [fresh[key] for key in sorted(fresh)]  # the added chapters' runs
    before = old["commit"].split(", ")  # runs from before per-run commits: the report's list
    commits = list(dict.fromkeys(c for r in runs for c in ([r["commit"]] if "commit" in r else before)))
    return {**old, "chapters": old["chapters"] + added, "commit": ", ".join(commits),
            "date": new["date"], "seconds": round(sum(r["seconds"] for r in runs)), "runs": runs}


def _commit() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offsets", type=int, nargs="+", default=list(DEFAULT_OFFSETS))
    parser.add_argument("--chapters", type=Path, nargs="+", default=None)
    parser.add_argument("--scratch", type=Path, default=ROOT / "_build" / "seeds")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--no-write", action="store_true",
                        help="print the table; leave seed_robustness.json/.md as they are")
    parser.add_argument("--update", action="store_true",
                        help="replace only these (offset, chapter) runs in the written report")
    parser.add_argument("--markdown-only", action="store_true",
                        help="rewrite seed_robustness.md from seed_robustness.json; execute nothing")
    args = parser.parse_args(argv)
    if args.markdown_only:
        REPORT_MD.write_text(markdown(json.loads(REPORT_JSON.read_text())))
        return 0
    if any(a < 0 for a in args.offsets):
        parser.error(f"offsets must be non-negative integers, got {args.offsets}")
    paths = [p.resolve() for p in (args.chapters or chapters())]
    if {p.stem for p in paths} != {p.stem for p in chapters()} and not (args.update or args.no_write):
        parser.error("a run over some chapters would replace the whole report with them: "
                     "pass --update (replace only their runs) or --no-write")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from ntklib import config

    start = time.time()
    runs = []
    for offset in args.offsets:
        for path in paths:
            run = run_chapter(path, offset, args.scratch, args.timeout)
            runs.append(run)
            print(f"offset {offset} {path.stem}: {run['passed']} of {run['checked']} hold, "
                  f"{len(run['errors'])} errors, {run['seconds']:.0f} s", flush=True)
    for run in runs:
        run["commit"] = _commit()
    report = {"offsets": args.offsets, "scale": config.scale(), "commit": _commit(),
              "date": datetime.date.today().isoformat(), "seconds": round(time.time() - start),
              "chapters": [p.stem for p in paths], "runs": runs}
    if args.update:
        report = updated(json.loads(REPORT_JSON.read_text()), report)
    table = markdown(report)
    if not args.no_write:
        REPORT_JSON.write_text(json.dumps(report, indent=1) + "\n")
        REPORT_MD.write_text(table)
    print(table)
    n = failures(report)
    print(f"{n} failed claims, unstated claims or cell errors" if n else "every claim holds")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())

"""Turning the tracking benchmark's raw numbers into a table, a JSON record and docs."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from systems import FILTER, METRICS, ORDER_BY, PAGE_SIZE, PAGES, PARAMS, TAGS, TOP_K

PACKAGES = ("mlflow", "mlflow-skinny", "modelport", "sqlalchemy", "alembic")
README_BEGIN = "<!-- tracking:begin (written by benchmarks/tracking/bench.py) -->"
README_END = "<!-- tracking:end -->"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def environment(repo: Path) -> dict[str, Any]:
    """What could skew a run: the code measured (commit, uncommitted changes to the
    package) and the machine's load. Taken before and after the run."""
    return {
        "git_commit": _git(repo, "rev-parse", "--short", "HEAD") or None,
        "uncommitted_package_files": _git(repo, "status", "--porcelain", "--", "src",
                                          "pyproject.toml").splitlines(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _rows(results: dict[str, Any], n_runs: int) -> list[dict[str, Any]]:
    """metric, MLflow value, modelport value, ratio (> 1 means modelport is faster)."""
    ml, mp = results["mlflow"], results["modelport"]
    rows = [{"metric": f"logging {n_runs:,} runs (runs/s, higher is better)",
             "mlflow": ml["logging"]["runs_per_s"], "modelport": mp["logging"]["runs_per_s"],
             "ratio": mp["logging"]["runs_per_s"] / ml["logging"]["runs_per_s"]}]
    for key, label in (
        ("top100", f"filtered, ordered top-{TOP_K} search (s)"),
        ("fetch_all", f"fetch all {n_runs:,} runs with params/metrics/tags (s)"),
        ("pages", f"first {PAGES} pages of {PAGE_SIZE}, ordered, page tokens (s)"),
    ):
        rows.append({"metric": label, "mlflow": ml[key]["best_s"], "modelport": mp[key]["best_s"],
                     "ratio": ml[key]["best_s"] / mp[key]["best_s"]})
    rows.append({"metric": f"CLI `runs list` filtered top-{TOP_K} --json, new process (s)",
                 "mlflow": None, "modelport": mp["cli_top100"]["seconds"], "ratio": None})
    rows.append({"metric": "database size on disk (MB, smaller is better)",
                 "mlflow": ml["db_mb"], "modelport": mp["db_mb"],
                 "ratio": ml["db_mb"] / mp["db_mb"]})
    return rows


def build(results: dict[str, Any], n_runs: int, seed: int, command: str, started: float,
          before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Everything worth keeping about one benchmark run."""
    return {
        "benchmark": "tracking: runs search vs MLflow",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": time.time() - started,
        "command": command,
        "git_commit": before["git_commit"],
        "code_changed_during_run": (before["git_commit"], before["uncommitted_package_files"])
        != (after["git_commit"], after["uncommitted_package_files"]),
        "environment": {"before": before, "after": after},
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "packages": {name: _version(name) for name in PACKAGES},
        "workload": {
            "runs": n_runs, "seed": seed, "params_per_run": len(PARAMS),
            "metrics_per_run": len(METRICS), "tags_per_run": len(TAGS),
            "store": "SQLite, a fresh database per system in a temporary directory",
            "filter": FILTER, "order_by": ORDER_BY, "top_k": TOP_K,
            "pages": PAGES, "page_size": PAGE_SIZE,
            "timing": "wall clock; the systems take turns (logging in interleaved blocks of "
                      "100 runs, queries round by round) so both see the same machine load; "
                      "queries: best of 3 after one warm-up",
        },
        "results": results,
        "rows": _rows(results, n_runs),
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 0.01 else f"{value:.2g}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}×"
    return f"{value:.1f}×" if value >= 10 else f"{value:.3g}×"


def table(summary: dict[str, Any]) -> str:
    lines = ["| metric | MLflow | modelport | ratio (>1: modelport faster, or smaller) |",
             "|---|---:|---:|---:|"]
    lines += [f"| {r['metric']} | {_fmt(r['mlflow'])} | {_fmt(r['modelport'])} | "
              f"{_fmt_ratio(r['ratio'])} |" for r in summary["rows"]]
    return "\n".join(lines)


def _context(summary: dict[str, Any]) -> str:
    m, p, w = summary["machine"], summary["packages"], summary["workload"]
    commit = summary["git_commit"]
    if summary["environment"]["before"]["uncommitted_package_files"]:
        commit += " with uncommitted changes"
    return (f"{summary['date'][:10]}, {m['cpu_count']} CPUs, Python {m['python']}, "
            f"MLflow {p['mlflow']}, modelport {p['modelport']} ({commit}), "
            f"SQLAlchemy {p['sqlalchemy']}. {w['runs']:,} runs × {w['params_per_run']} params, "
            f"{w['metrics_per_run']} metrics, {w['tags_per_run']} tags; filter "
            f"`{w['filter']}`, order `{w['order_by']}`; {w['timing']}. 1-minute load average "
            f"{_load(summary, 'before')} at the start, {_load(summary, 'after')} at the end.")


def _load(summary: dict[str, Any], when: str) -> str:
    load = summary["environment"][when]["load_average"]
    return f"{load[0]:.1f}" if load else "unknown"


def markdown(summary: dict[str, Any], table_text: str) -> str:
    cli = summary["results"]["modelport"]["cli_top100"]["command"]
    return (f"# Tracking: runs search vs MLflow\n\n"
            f"`{summary['command']}`\n\n{_context(summary)}\n\n{table_text}\n\n"
            f"CLI row: `{cli}` with `MODELPORT_HOME` at the benchmark's store, timed once "
            f"including interpreter start-up; MLflow has no equivalent filtered CLI listing.\n")


def _readme_section(summary: dict[str, Any], table_text: str) -> str:
    return (f"{README_BEGIN}\nRun: `python benchmarks/tracking/bench.py [--runs 10000] "
            f"[--quick]` — last full run {summary['date'][:10]} (`{summary['command']}`).\n\n"
            f"{_context(summary)}\n\n{table_text}\n\n"
            f"Raw numbers: [results/tracking.json](results/tracking.json).\n{README_END}")


def write(summary: dict[str, Any], table_text: str, out: Path, readme: Path | None) -> None:
    """tracking.json and tracking.md in ``out``; the README section when ``readme`` is given."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracking.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "tracking.md").write_text(markdown(summary, table_text))
    if readme is None:
        return
    text = readme.read_text() if readme.exists() else ""
    section = _readme_section(summary, table_text)
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n## Tracking: runs search vs MLflow\n\n" + section + "\n"
    readme.write_text(text)

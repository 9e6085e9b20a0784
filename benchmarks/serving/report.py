"""The issue's targets as ratios of one run's numbers, and the tables that show them.

Every ratio compares two servers measured minutes apart on the same machine,
same core, same request; a target is "met" only when every line it covers
(each endpoint, each concurrency it names) meets it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN = "<!-- serving:begin (written by benchmarks/serving/bench.py) -->"
END = "<!-- serving:end -->"
SECTION = "## Serving: single-row inference vs the no-op ceiling, MLflow and BentoML"

MODEL_TITLES = {
    "lr": "LogisticRegression (20 features)",
    "forest": "RandomForestClassifier (100 trees, max_depth=10)",
}


def find(runs: list[dict[str, Any]], model: str, server: str, endpoint: str | None,
         c: int) -> dict[str, Any] | None:
    for run in runs:
        if (run["model"] == model and run["server"] == server and run["concurrency"] == c
                and (endpoint is None or run["endpoint"] == endpoint)):
            return run
    return None


def median_rounds(every: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per (model, server, endpoint, concurrency): the round with the median rps.

    The servers take turns round after round, so a slow minute of a shared machine
    lands on one round of each, not on all the runs of one server; every round's rps
    stays in the record."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for run in every:
        key = (run["model"], run["server"], run["endpoint"], run["concurrency"])
        groups.setdefault(key, []).append(run)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda r: r["rps"])
        chosen = dict(ranked[(len(ranked) - 1) // 2])
        chosen["rounds_rps"] = [round(r["rps"]) for r in group]
        out.append(chosen)
    return out


def _line(what: str, value: float | None, threshold: float, higher: bool, unit: str = "×"
          ) -> dict[str, Any]:
    met = None if value is None else (value >= threshold if higher else value <= threshold)
    return {"what": what, "value": value, "threshold": threshold,
            "direction": ">=" if higher else "<=", "unit": unit, "met": met}


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "rps"
           ) -> float | None:
    if a is None or b is None or not b[key]:
        return None
    return a[key] / b[key]


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's performance targets, each with its lines and a verdict."""
    out: list[dict[str, Any]] = []
    mp_endpoints = ("v2", "invocations")

    lines = []
    for ep in mp_endpoints:
        for c in (1, 32):
            lines.append(_line(f"modelport {ep} / ceiling, c={c}",
                               _ratio(find(runs, "lr", "modelport", ep, c),
                                      find(runs, "lr", "ceiling", None, c)), 0.80, True, "%"))
    info = [_line(f"for information: modelport {ep} / no-op on modelport's own HTTP server, "
                  f"c={c}", _ratio(find(runs, "lr", "modelport", ep, c),
                                   find(runs, "lr", "floor", None, c)), 0.80, True, "%")
            for ep in mp_endpoints for c in (1, 32)]
    out.append({"id": "lr-ceiling", "title": "LogisticRegression: rps ≥ 80 % of the no-op "
                "ceiling (a no-op Starlette app under uvicorn)", "lines": lines, "info": info})

    lines = []
    for ep in mp_endpoints:
        for c in (1, 32):
            lines.append(_line(f"modelport {ep} / MLflow /invocations, c={c}",
                               _ratio(find(runs, "lr", "modelport", ep, c),
                                      find(runs, "lr", "mlflow", None, c)), 10.0, True))
    out.append({"id": "lr-mlflow", "title": "LogisticRegression: rps ≥ 10× MLflow's",
                "lines": lines})

    lines = [_line(f"modelport {ep} p99 / ceiling p99, c=32",
                   _ratio(find(runs, "lr", "modelport", ep, 32),
                          find(runs, "lr", "ceiling", None, 32), "p99_ms"), 2.0, False)
             for ep in mp_endpoints]
    out.append({"id": "lr-p99", "title": "LogisticRegression: p99 at c=32 within 2× the "
                "ceiling's", "lines": lines})

    lines = [_line("modelport --runtime native (batched) / --runtime native --no-batching, "
                   "v2, c=32",
                   _ratio(find(runs, "forest", "modelport-native", "v2", 32),
                          find(runs, "forest", "modelport-native-unbatched", "v2", 32)),
                   3.0, True)]
    info = [_line("for information: default (ONNX, batched) / --runtime onnx --no-batching, "
                  "v2, c=32",
                  _ratio(find(runs, "forest", "modelport", "v2", 32),
                         find(runs, "forest", "modelport-onnx-unbatched", "v2", 32)), 3.0, True)]
    out.append({"id": "forest-batching", "title": "RandomForest, c=32: batching ≥ 3× "
                "modelport's own unbatched native path", "lines": lines, "info": info})

    lines = [_line(f"modelport default {ep} / BentoML, c=32",
                   _ratio(find(runs, "forest", "modelport", ep, 32),
                          find(runs, "forest", "bentoml", None, 32)), 10.0, True)
             for ep in mp_endpoints]
    out.append({"id": "forest-bentoml", "title": "RandomForest, c=32: rps ≥ 10× BentoML's "
                "adaptive batching", "lines": lines})

    mine = [r for r in runs if r["server"].startswith("modelport")]
    bad = [r for r in mine if r["errors"]]
    out.append({"id": "errors", "title": "modelport: zero errors in every run", "lines": [
        {"what": f"{len(bad)} of {len(mine)} modelport runs had errors"
                 + "".join(f"; {r['model']} {r['server']} {r['endpoint']} c={r['concurrency']}:"
                           f" {r['errors']}" for r in bad),
         "value": float(sum(r["errors"] for r in mine)), "threshold": 0.0, "direction": "<=",
         "unit": "", "met": not bad}]})

    for target in out:
        verdicts = [line["met"] for line in target["lines"]]
        target["met"] = None if None in verdicts else all(verdicts)
    return out


def _fmt_value(line: dict[str, Any]) -> str:
    value = line["value"]
    if value is None:
        return "n/a"
    if line["unit"] == "":
        return f"{value:g} errors"
    if line["unit"] == "%":
        return f"{value:.0%} (target {line['direction']} {line['threshold']:.0%})"
    if line["unit"] == "×":
        return f"{value:.2f}× (target {line['direction']} {line['threshold']:g}×)"
    return f"{value:g}"


def verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "not measured"}[met]


def target_lines(all_targets: list[dict[str, Any]]) -> list[str]:
    out = []
    for target in all_targets:
        details = "; ".join(f"{line['what']}: {_fmt_value(line)}"
                            + ("" if line["met"] in (None, True) or len(target["lines"]) == 1
                               else " ✗")
                            for line in target["lines"])
        out.append(f"- {target['title']} — {verdict(target['met'])}. {details}.")
        for line in target.get("info", []):
            value = "n/a" if line["value"] is None else f"{line['value']:.2f}×"
            out.append(f"  - {line['what']}: {value} (no target).")
    return out


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


DISTURBED = 0.15


def disturbed(run: dict[str, Any]) -> bool:
    """Other processes took more than ``DISTURBED`` of a core while this run was measured."""
    return float(run.get("cpu", {}).get("other_cores", 0.0)) > DISTURBED


def model_table(runs: list[dict[str, Any]], model: str) -> list[str]:
    rows = [r for r in runs if r["model"] == model]
    keys: list[tuple[str, str]] = []
    for r in rows:
        if (r["server"], r["endpoint"]) not in keys:
            keys.append((r["server"], r["endpoint"]))
    out = ["| server | endpoint | c=1 rps | c=1 p50 / p99 ms | c=32 rps | c=32 p50 / p99 ms "
           "| errors | c=32 share of ceiling |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    ceiling = find(runs, model, "ceiling", None, 32)
    for server, endpoint in keys:
        one = find(runs, model, server, endpoint, 1)
        many = find(runs, model, server, endpoint, 32)
        label = next(r["label"] for r in rows if r["server"] == server)
        cells = [label, f"`{endpoint}`"]
        for run in (one, many):
            cells += ([_num(run["rps"]) + (" †" if disturbed(run) else ""),
                       f"{_ms(run['p50_ms'])} / {_ms(run['p99_ms'])}"] if run else ["—", "—"])
        cells.append(str(sum(r["errors"] for r in (one, many) if r)))
        share = _ratio(many, ceiling)
        cells.append(f"{share:.1%}" if share is not None else "—")
        out.append("| " + " | ".join(cells) + " |")
    return out


def batch_notes(servers: dict[str, Any], model: str) -> list[str]:
    notes = []
    for key, info in servers.get(model, {}).items():
        batches = info.get("batches")
        if batches and batches.get("count"):
            notes.append(f"`{key}`: {batches['count']:,.0f} model calls, "
                         f"{batches['mean_rows']:.1f} rows per call on average")
    return notes


def markdown(result: dict[str, Any], with_profiles: bool = True) -> str:
    runs = result["runs"]
    s = result["settings"]
    v = result["versions"]
    lines = [
        f"{result['date'][:10]}, {result['machine']['cpus']} CPUs ({result['machine']['cpu']}),"
        f" Python {result['machine']['python']}. Server pinned to core {s['server_core']} "
        f"(`taskset`), load from core {s['load_core']}: `{s['wrk_command']}`; "
        f"{s['duration_s']:g}-second runs after a {s['warmup_s']:g}-second warm-up per "
        f"endpoint; single-row JSON POSTs; errors = non-2xx + socket errors. "
        f"{s.get('rounds', 1)} round(s): every server measured in turn, round after round; "
        "each cell is the round with the median rps (all rounds' rps are in the JSON).",
        "",
        f"Versions: modelport {v['modelport'].get('modelport')} ({result['git']}), "
        f"onnxruntime {v['modelport'].get('onnxruntime')}, MLflow {v['peers'].get('mlflow')}, "
        f"BentoML {v['peers'].get('bentoml')}, Starlette {v['peers'].get('starlette')}, "
        f"uvicorn {v['peers'].get('uvicorn')} (the ceiling's; modelport serves with its own "
        f"HTTP server on httptools {v['modelport'].get('httptools')}), "
        f"scikit-learn {v['modelport'].get('scikit-learn')}, {s['wrk_version']}.",
    ]
    for model in result["models"]:
        lines += ["", f"### {MODEL_TITLES.get(model, model)}", "", *model_table(runs, model)]
        notes = batch_notes(result.get("servers", {}), model)
        if notes:
            lines += ["", "Batch sizes seen by modelport over the whole server run "
                      "(`/metrics`): " + "; ".join(notes) + "."]
        mlflow_note = result.get("peers", {}).get("mlflow", {}).get(model, {})
        if mlflow_note:
            lines += ["", f"MLflow model saved with {mlflow_note['serialization']}."]
    hit = [r for r in runs if disturbed(r)]
    lines += ["", f"† other processes on this shared machine took more than {DISTURBED:g} of "
              f"a core during the run ({len(hit)} of {len(runs)} runs; each waited for a quiet "
              f"machine and was re-run up to {s['quiet']['attempts']} times, keeping the least "
              "disturbed). CPU measured from /proc during every run is in the JSON."
              if hit else "No run was disturbed by other processes (each waited for a quiet "
              "machine; CPU taken by others, measured from /proc during every run, stayed "
              f"under {DISTURBED:g} of a core)."]
    lines += ["", "### Targets (issue 4)", "", *target_lines(result["targets"])]
    if with_profiles and result.get("profiles"):
        lines += ["", "### Where the CPU goes (py-spy, c=32, separate runs)", ""]
        for prof in result["profiles"]:
            lines += profile_lines(prof)
    return "\n".join(lines) + "\n"


def profile_lines(prof: dict[str, Any], n: int = 12, n_self: int = 8) -> list[str]:
    """Two short tables: the server's own functions (inclusive), then the top self time."""
    own = "modelport/" if prof["server"].startswith("modelport") else ""
    head = (f"**{prof['model']} · {prof['label']} · `{prof['endpoint']}`** — "
            f"{prof['rps_while_profiled']:,.0f} rps while sampled, {prof['samples']:,} samples "
            f"(idle waits dropped); share of the samples and its estimated cost per request "
            f"(share / rps):")
    rows = [f"| {'modelport function' if own else 'function'} (inclusive) | share | µs/req |",
            "|---|---:|---:|"]
    shown = 0
    for row in prof["inclusive"]:
        if _boring(row["function"]) or own not in row["function"]:
            continue
        rows.append(f"| `{row['function']}` | {row['share']:.1%} | {row['us_per_request']} |")
        shown += 1
        if shown == n:
            break
    rows += ["| **self time, top functions** | | |"]
    for row in prof["self"][:n_self]:
        rows.append(f"| `{row['function']}` | {row['share']:.1%} | {row['us_per_request']} |")
    return [head, "", *rows, ""]


_BORING = re.compile(r"^(<module>|run|Runner\.run|asyncio_run|Server\.run|serve|main|_main|"
                     r"Typer\.__call__|Command\.|TyperGroup\.|Context\.invoke|"
                     r"get_callback\.<locals>\.wrapper|_run_module_as_main|_run_code|"
                     r"BaseEventLoop\.run_forever|BaseEventLoop\.run_until_complete|"
                     r"Server\.serve|Server\._serve|Thread\._bootstrap)")


def _boring(function: str) -> bool:
    return bool(_BORING.match(function))


def update_readme(readme: Path, block: str, intro: str) -> None:
    """Replace this benchmark's marked block in ``readme``, or append the section;
    everything else in the file (other benchmarks' sections) is kept as it is now."""
    text = readme.read_text() if readme.exists() else intro
    body = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        start = text.index(BEGIN)
        stop = text.index(END, start) + len(END)
        text = text[:start] + body + text[stop:]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{body}\n"
    readme.write_text(text)

"""``modelport endpoints``, ``modelport rollout`` and ``modelport controller``."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.render import JsonFlag, console, emit_json, fields, table, when

endpoints_app = typer.Typer(help="Endpoints: named addresses with a traffic policy.",
                            no_args_is_help=True)
rollout_app = typer.Typer(help="Safe releases: canary, blue-green, shadow.",
                          no_args_is_help=True)



def register(app: typer.Typer) -> None:
    app.add_typer(endpoints_app, name="endpoints")
    app.add_typer(rollout_app, name="rollout")
    app.command("controller")(controller)


def seconds(text: str) -> float:
    """``30s``, ``2m``, ``1h`` or a plain number of seconds."""
    from modelport.errors import InvalidInputError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m:
        raise InvalidInputError(f"invalid duration {text!r} — write e.g. 30s, 2m or 1h")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2] or "s"]
    return float(m[1]) * scale


def fraction(text: str) -> float:
    """``1%`` or ``0.01``."""
    from modelport.errors import InvalidInputError

    try:
        return float(text.rstrip("%")) / 100 if text.strip().endswith("%") else float(text)
    except ValueError:
        raise InvalidInputError(f"invalid rate {text!r} — write e.g. 1% or 0.01") from None


def _policy_text(policy: Any) -> str:
    parts = [f"{r.version} {r.weight:g}%" for r in policy.routes if r.weight > 0]
    if policy.shadow:
        parts.append(f"shadow {policy.shadow} {policy.shadow_percent:g}%")
    if policy.warm:
        parts.append(f"warm {', '.join(policy.warm)}")
    if policy.sticky_header:
        parts.append(f"sticky on {policy.sticky_header}")
    return " · ".join(parts)


# ------------------------------------------------------------------ endpoints

@endpoints_app.command("create")
def create(name: str, model: Annotated[str, typer.Option(
        "--model", help="NAME, NAME:VERSION or NAME@ALIAS; resolved to a version now.")]
           ) -> None:
    """Create an endpoint sending all traffic to one version."""
    from modelport.lifecycle.endpoints import create_endpoint

    ep = create_endpoint(name, model)
    console.print(f"endpoint [bold]{ep.name}[/bold] → {_policy_text(ep.policy)}")


@endpoints_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every endpoint and its traffic policy."""
    from modelport.lifecycle.endpoints import list_endpoints

    found = list_endpoints()
    if as_json:
        emit_json(found)
        return
    if not found:
        return nothing("endpoints")
    table(None, ["endpoint", "policy", "revision", "updated"],
          ([e.name, _policy_text(e.policy), e.revision, when(e.updated)] for e in found))


@endpoints_app.command("show")
def show(name: str, as_json: JsonFlag = False) -> None:
    """An endpoint, its policy and its current rollout."""
    from modelport.control.rollout import active_rollout
    from modelport.lifecycle.endpoints import get_endpoint

    ep, r = get_endpoint(name), active_rollout(name)
    if as_json:
        emit_json({"endpoint": ep, "rollout": r})
        return
    fields(ep.name, [("policy", _policy_text(ep.policy)), ("revision", ep.revision),
                     ("updated", when(ep.updated)),
                     ("rollout", f"{r.kind} of {r.candidate}: {r.state}" if r else "-")])


@endpoints_app.command("delete")
def delete(name: str, yes: Annotated[bool, typer.Option("--yes", "-y")] = False) -> None:
    """Delete an endpoint (its rollouts go with it)."""
    from modelport.lifecycle.endpoints import delete_endpoint

    if not yes and not typer.confirm(f"delete endpoint {name}?"):
        raise typer.Exit(1)
    delete_endpoint(name)
    console.print(f"deleted endpoint {name}")


# ------------------------------------------------------------------ rollouts

@rollout_app.command("canary")
def canary(
    name: str,
    to: Annotated[str, typer.Option("--to", help="The candidate: NAME:VERSION or NAME@ALIAS.")],
    steps: Annotated[str, typer.Option(help="Traffic percentages, in order.")] = "5,25,50,100",
    interval: Annotated[str, typer.Option(help="Analysis time per step.")] = "30s",
    max_error_rate: Annotated[str, typer.Option(help="Abort above this error rate.")] = "1%",
    max_p99_ms: Annotated[float | None, typer.Option(help="Abort above this p99.")] = None,
    min_requests: Annotated[int, typer.Option(help="Requests a step needs to pass.")] = 200,
    max_shift: Annotated[float, typer.Option(
        help="Abort when predictions move this far (total variation of classes).")] = 0.25,
    sticky_header: Annotated[str | None, typer.Option(
        help="Keep each value of this header on one version.")] = None,
) -> None:
    """Shift traffic to a candidate step by step, each step gated by live analysis."""
    from modelport.control.rollout import start_canary
    from modelport.errors import InvalidInputError

    try:
        percents = [float(p) for p in steps.split(",")]
    except ValueError:
        raise InvalidInputError(f"invalid steps {steps!r} — write e.g. 5,25,50,100") from None
    thresholds = {"max_error_rate": fraction(max_error_rate), "max_p99_ms": max_p99_ms,
                  "min_requests": min_requests, "max_shift": max_shift}
    r = start_canary(name, to, percents, seconds(interval), thresholds, sticky_header)
    console.print(f"canary of {r.candidate} on {name} started at {percents[0]:g}% "
                  f"(stable {r.stable}); follow it with: modelport rollout status {name}")


@rollout_app.command("bluegreen")
def bluegreen(
    name: str,
    to: Annotated[str, typer.Option("--to", help="The new version.")],
    grace: Annotated[str, typer.Option(help="How long the old slot stays warm.")] = "60s",
) -> None:
    """Warm the new version in the idle slot, check it, then switch all traffic at once."""
    from modelport.control.rollout import start_bluegreen

    r = start_bluegreen(name, to, grace_s=seconds(grace))
    console.print(f"blue-green to {r.candidate} on {name}: warming, then switching "
                  f"(rollback with: modelport rollout rollback {name})")


@rollout_app.command("shadow")
def shadow(
    name: str,
    to: Annotated[str, typer.Option("--to", help="The candidate to mirror requests to.")],
    percent: Annotated[float, typer.Option(help="Share of requests mirrored.")] = 100.0,
) -> None:
    """Mirror live requests to a candidate; clients only ever get the stable answer."""
    from modelport.control.rollout import start_shadow

    r = start_shadow(name, to, percent)
    console.print(f"shadowing {percent:g}% of {name} to {r.candidate}; see agreement with: "
                  f"modelport rollout status {name}")


@rollout_app.command("status")
def status(name: str, as_json: JsonFlag = False) -> None:
    """The current (or last) rollout with live metrics of both versions."""
    import time

    from modelport.control.analysis import summary
    from modelport.control.rollout import latest_rollout
    from modelport.core.workspace import current
    from modelport.lifecycle.endpoints import get_endpoint
    from modelport.runtimes.serving.stats import read_stats

    r, ep = latest_rollout(name), get_endpoint(name)
    stats = read_stats(name, r.step_started, current())
    live = {v: summary(s) for v, s in stats.items()}
    if as_json:
        emit_json({"rollout": r, "policy": ep.policy, "stats": live})
        return
    step = (f"step {r.step + 1}/{len(r.config['steps'])} ({r.config['steps'][r.step]:g}%)"
            if r.kind == "canary" else "-")
    fields(f"{r.kind} on {name}", [
        ("state", r.state), ("stable", r.stable), ("candidate", r.candidate), ("step", step),
        ("in this state", f"{time.time() - r.step_started:.0f} s"),
        ("policy", _policy_text(ep.policy))])
    table("since the step began", ["version", "requests", "errors (5xx)", "error rate",
                                   "client errors (4xx)", "p99 ms", "accuracy",
                                   "agrees with the answer"],
          [row for v, s in sorted(live.items()) for row in _rows(v, s)])


def _rows(version: str, s: dict[str, Any]) -> list[list[Any]]:
    """A version's live traffic, and apart, the shadow copies it was sent (never answered
    to a client): a shadow's requests, errors and latency are its own, not the stable's."""
    rows = []
    if s["requests"] or not s.get("shadow_requests"):
        rows.append([version, s["requests"], s["errors"], f"{s['error_rate']:.2%}",
                     s["client_errors"], s["p99_ms"], _accuracy(s), "-"])
    if s.get("shadow_requests"):
        agreement = s["shadow_agreement"]
        rows.append([f"{version} (shadow)", s["shadow_requests"],
                     round(s["shadow_error_rate"] * s["shadow_requests"]),
                     f"{s['shadow_error_rate']:.2%}", "-", s["shadow_p99_ms"], "-",
                     "-" if agreement is None else f"{agreement:.1%}"])
    return rows


def _accuracy(s: dict[str, Any]) -> str | None:
    """Accuracy on labels the server can vouch for, and apart, on those it cannot."""
    parts = []
    if "accuracy" in s:
        parts.append(f"{s['accuracy']:.1%} of {s['feedback']}")
    if "unverified_accuracy" in s:
        parts.append(f"unverified {s['unverified_accuracy']:.1%} of {s['unverified_feedback']}")
    return " · ".join(parts) or None


def _simple(verb: str, doc: str) -> None:
    def command(name: str) -> None:
        from modelport.control import rollout

        r = getattr(rollout, verb)(name)
        serving = {"aborted": r.stable, "rolled_back": r.stable, "promoted": r.candidate}
        console.print(f"{name}: {verb} → {r.state}"
                      + (f" (serving {serving[r.state]})" if r.state in serving else ""))

    command.__doc__ = doc
    rollout_app.command(verb)(command)


for _verb, _doc in (("pause", "Hold a canary at its current step."),
                    ("resume", "Continue a paused canary."),
                    ("promote", "Send all traffic to the candidate now."),
                    ("abort", "Send all traffic back to the stable version now."),
                    ("rollback", "Undo the last release: back to the version it replaced.")):
    _simple(_verb, _doc)


@rollout_app.command("history")
def history_(name: str, as_json: JsonFlag = False) -> None:
    """Every rollout of an endpoint with every transition, its reason and metrics."""
    from modelport.control.rollout import history

    found = history(name)
    if as_json:
        emit_json([{"rollout": r, "events": events} for r, events in found])
        return
    for r, events in found:
        table(f"{r.kind} {r.stable} → {r.candidate} ({r.state})", ["at", "action", "state",
                                                                    "reason"],
              ([when(e.at), e.action, e.state, e.reason] for e in events))


def controller(every: Annotated[str, typer.Option(help="Tick period.")] = "1s") -> None:
    """Run the rollout controller alone (``modelport serve`` also runs one)."""
    from modelport.control.controller import Controller

    console.print("rollout controller running — Ctrl-C to stop")
    Controller().run(seconds(every))

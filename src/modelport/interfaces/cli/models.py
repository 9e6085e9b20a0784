"""``modelport models``: the registry — versions, aliases, tags, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.render import JsonFlag, console, emit_json, fields, table, when

app = typer.Typer(help="Registered models: versions, aliases, tags.", no_args_is_help=True)



def _metrics(metrics: dict[str, float], n: int = 3) -> str:
    keys = [k for k in sorted(metrics) if k.startswith("test_")][:n]
    return ", ".join(f"{k.removeprefix('test_')}={metrics[k]:.4g}" for k in keys)


@app.command("list")
def list_models(as_json: JsonFlag = False) -> None:
    """Every registered model with its newest version and aliases."""
    from modelport.lifecycle.registry import list_models as _list

    found = _list()
    if as_json:
        emit_json(found)
        return
    if not found:
        return nothing("registered models", " — train one with: modelport train ... --name NAME")
    table(None, ["model", "versions", "latest", "aliases", "updated"],
          ([m.name, m.versions, m.latest_version,
            ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())), when(m.updated)]
           for m in found))


@app.command("show")
def show(ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
         as_json: JsonFlag = False) -> None:
    """One version in full: format, digest, signature, metrics, lineage, export."""
    from modelport.lifecycle.registry import get_version

    v = get_version(ref)
    if as_json:
        emit_json(v)
        return
    onnx = "-"
    if v.onnx:
        onnx = (f"passed (max abs diff {v.onnx['max_abs_diff']:.2g} on {v.onnx['rows']} rows)"
                if v.onnx.get("passed") else f"failed: {v.onnx.get('error') or 'parity'}")
    fields(f"{v.ref}", [
        ("aliases", ", ".join(v.aliases) or "-"), ("format", v.format),
        ("artifact", f"sha256:{v.artifact_digest} ({v.artifact_size:,} bytes)"),
        ("run", v.run_id or "-"), ("dataset", v.dataset_digest or "-"),
        ("created", when(v.created)), ("description", v.description or "-"),
        ("onnx", onnx), ("classes", ", ".join(map(str, v.signature.classes or [])) or "-"),
        ("tags", ", ".join(f"{k}={val}" for k, val in v.tags.items()) or "-")])
    if v.signature.tensors is not None:
        from rich.markup import escape

        from modelport.core.tensor_inputs import shape_text

        table("inputs", ["tensor", "dtype", "shape"],
              ((t.name, t.dtype, escape(shape_text(t.shape))) for t in v.signature.tensors))
    else:
        table("inputs", ["column", "dtype"], ((c.name, c.dtype) for c in v.signature.inputs))
    if v.metrics:
        table("metrics", ["metric", "value"], sorted(v.metrics.items()))


@app.command("versions")
def versions(name: str, as_json: JsonFlag = False) -> None:
    """Every version of a model, newest first."""
    from modelport.lifecycle.registry import list_versions

    found = list_versions(name)
    if as_json:
        emit_json(found)
        return
    table(name, ["version", "aliases", "format", "metrics", "onnx", "created"],
          ([v.version, ", ".join(v.aliases), v.format, _metrics(v.metrics),
            "yes" if v.onnx_ready else "-", when(v.created)] for v in found))


@app.command("register")
def register(name: str,
             run: Annotated[str, typer.Option(
                 "--run", help="The run whose model to register: its id or any unique start "
                               "of it.")],
             description: Annotated[str, typer.Option(help="What this version is.")] = "",
             ) -> None:
    """Register the model a training run logged as the next version of NAME."""
    from modelport.lifecycle.registry import register_run

    v = register_run(name, run, description=description)
    console.print(f"registered [bold]{v.ref}[/bold] from run {v.run_id}")


@app.command("import")
def import_model(
        path: Annotated[Path, typer.Argument(help="The .onnx file (external data files beside "
                                                  "it are imported with it); with --torch, "
                                                  "where the export is written.")],
        name: Annotated[str, typer.Option("--name", help="The model to add a version to.")],
        torch: Annotated[str | None, typer.Option(
            "--torch", help="MODULE:FACTORY returning a trained torch.nn.Module: exported "
                            "with torch.onnx.export (the 'torch' extra), then imported.")
        ] = None,
        example: Annotated[Path | None, typer.Option(
            help="With --torch: a JSON object of forward's argument names to values to "
                 "trace the module on.")] = None,
        outputs: Annotated[str, typer.Option(
            help="With --torch: the graph's output names, comma-separated.")] = "output",
        labels: Annotated[Path | None, typer.Option(
            help="Class names, one per line, in the order of the graph's score columns.")
        ] = None,
        input_example: Annotated[Path | None, typer.Option(
            help="A JSON object of input name to values, run through the graph before "
                 "registering and used to warm servers.")] = None,
        tokenizer: Annotated[Path | None, typer.Option(
            help="A Hugging Face tokenizer.json: clients then send raw text.")] = None,
        max_length: Annotated[int | None, typer.Option(
            help="Tokens per text (default: the tokenizer's truncation, else 512).")] = None,
        too_long: Annotated[str, typer.Option(
            help="A longer text is 'truncate'd or 'refuse'd (HTTP 422).")] = "truncate",
        description: Annotated[str, typer.Option(help="What this version is.")] = "",
        as_json: JsonFlag = False) -> None:
    """Register an ONNX graph trained elsewhere (PyTorch, TensorFlow, Hugging Face)."""
    from rich.markup import escape

    from modelport.core.tensor_inputs import shape_text
    from modelport.lifecycle.importing import import_onnx

    if torch is not None:
        from modelport.errors import InvalidInputError
        from modelport.lifecycle.torch_export import export_torch

        if example is None:
            raise InvalidInputError("--torch needs --example: forward's inputs to trace it on")
        export_torch(torch, example, path, [o.strip() for o in outputs.split(",") if o.strip()])
    v = import_onnx(path, name, labels=labels, input_example=input_example, tokenizer=tokenizer,
                    max_length=max_length, too_long=too_long, description=description)
    if as_json:
        emit_json(v)
        return
    assert v.signature.tensors is not None
    inputs = ", ".join(f"{t.name} {t.dtype}{shape_text(t.shape)}" for t in v.signature.tensors)
    if v.signature.text is not None:
        inputs = f"text (up to {v.signature.text.max_length} tokens, {too_long}d beyond)"
    console.print(f"imported [bold]{v.ref}[/bold]: sha256:{v.artifact_digest[:12]}… "
                  f"({v.artifact_size:,} bytes), opset {v.tags.get('onnx.opset')}, "
                  f"from {escape(v.tags.get('onnx.producer', '?'))}; inputs {escape(inputs)}")


@app.command("alias")
def alias(name: str, alias: str,
          version: Annotated[int | None, typer.Argument(help="Version to point at.")] = None,
          delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
          ) -> None:
    """Point NAME@ALIAS at VERSION (or remove it with --delete)."""
    from modelport.errors import InvalidInputError
    from modelport.lifecycle.registry import delete_alias, set_alias

    if delete:
        delete_alias(name, alias)
        console.print(f"removed {name}@{alias}")
        return
    if version is None:
        raise InvalidInputError(f"give the version {name}@{alias} should point at, "
                                f"e.g.: modelport models alias {name} {alias} 1")
    set_alias(name, alias, version)
    console.print(f"{name}@{alias} → {name}:{version}")


@app.command("tag")
def tag(ref: Annotated[str, typer.Argument(help="NAME (the model) or NAME:VERSION")],
        key: str, value: str) -> None:
    """Set a tag on a model or on one version."""
    from modelport.lifecycle.registry import set_tag

    set_tag(ref, key, value)
    console.print(f"tagged {ref}: {key}={value}")


@app.command("describe")
def describe(ref: Annotated[str, typer.Argument(help="NAME (the model) or NAME:VERSION")],
             description: str) -> None:
    """Set the description of a model or of one version."""
    from modelport.lifecycle.registry import set_description

    set_description(ref, description)
    console.print(f"described {ref}")


@app.command("delete")
def delete(ref: Annotated[str, typer.Argument(help="NAME (every version) or NAME:VERSION")],
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
           ) -> None:
    """Delete a model with its prediction logs and labels, or one of its versions
    (numbers are never reused; a version's logs are kept)."""
    from modelport.lifecycle.refs import parse_ref
    from modelport.lifecycle.registry import delete_model

    parsed = parse_ref(ref)
    whole = parsed.version is None and parsed.alias is None
    erased = " and erase its prediction logs and labels" if whole else ""
    if not yes and not typer.confirm(f"delete {ref}{erased}?"):
        raise typer.Exit(1)
    delete_model(ref)
    console.print(f"deleted {ref}")


@app.command("export-onnx")
def export_onnx(ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
                as_json: JsonFlag = False) -> None:
    """Convert a version to ONNX and check it predicts what the original does."""
    from modelport.lifecycle.loading import export_onnx as _export

    with console.status(f"converting {ref} to ONNX and checking parity"):
        v = _export(ref)
    assert v.onnx is not None
    if as_json:
        emit_json(v.onnx)
        return
    console.print(f"[green]✓[/green] {v.ref} exported to ONNX ({v.onnx['size']:,} bytes): max "
                  f"abs difference {v.onnx['max_abs_diff']:.2g} over {v.onnx['rows']} rows, "
                  f"labels agree {v.onnx['labels_agree']:.0%}")

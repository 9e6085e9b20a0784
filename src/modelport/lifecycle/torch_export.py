"""A PyTorch model to ONNX, so ``models import`` can register it: ``--torch MODULE:FACTORY``.

The user names a function of their own code that returns the trained
``torch.nn.Module`` (it loads its weights however it likes), and an example
of its inputs — a JSON object of ``forward``'s argument names to nested lists.
``torch.onnx.export`` traces the module on that example; the graph is then
imported like any other, so torch is needed here only (the ``torch`` extra),
never to serve. Every input's first axis is the batch and dynamic; a text
model's token inputs (``input_ids``, ``attention_mask``, ``token_type_ids``)
have a dynamic sequence axis too, so texts of any length are served.

Running the factory runs the user's code, by their own command — the same
trust as running their training script. The graph it produces goes through
every check an uploaded ONNX file does.

>>> export_torch("reviews.model:build", "example.json", Path("reviews.onnx"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelport.core.text_inputs import IDS, MASK, TYPES
from modelport.errors import InvalidInputError, first_line, require
from modelport.lifecycle.importing import read_example

OPSET = 17


def export_torch(factory: str, example: str | Path | Mapping[str, Any], out: Path,
                 outputs: Sequence[str] = ("output",)) -> Path:
    """Write the ONNX export of ``factory()`` (``"package.module:function"``) to ``out``,
    traced on ``example`` (input name to values); ``outputs``: the graph's output names."""
    torch = require("torch", "torch")
    model = _build(factory, torch)
    feeds = _feeds(example, torch)
    params = list(inspect.signature(model.forward).parameters)
    unknown = [name for name in feeds if name not in params]
    if unknown:
        raise InvalidInputError(f"the example names {unknown[0]!r}, which {factory}'s forward "
                                f"does not take ({', '.join(params)})")
    names = [p for p in params if p in feeds]  # forward's order
    axes: dict[str, dict[int, str]] = {
        n: {0: "batch", **({1: "sequence"} if n in (IDS, MASK, TYPES) and feeds[n].dim() == 2
                           else {})} for n in names}
    axes.update({o: {0: "batch"} for o in outputs})
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's advice on its own versions
            torch.onnx.export(model, (), str(out), kwargs={n: feeds[n] for n in names},
                              input_names=names, output_names=list(outputs),
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    except Exception as exc:  # tracing raises anything the user's forward raises
        raise InvalidInputError(f"torch.onnx.export of {factory} failed: "
                                f"{first_line(exc)}") from None
    return out


def _build(factory: str, torch: Any) -> Any:
    module_name, _, attr = factory.partition(":")
    if not module_name or not attr.isidentifier():
        raise InvalidInputError(f"--torch takes MODULE:FACTORY (e.g. reviews.model:build), "
                                f"not {factory!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import {module_name}: {first_line(exc)} — run from "
                                "the directory that holds it, or put it on PYTHONPATH") from None
    build = getattr(module, attr, None)
    if not callable(build):
        raise InvalidInputError(f"{module_name} has no function {attr!r}")
    model = build()
    if not isinstance(model, torch.nn.Module):
        raise InvalidInputError(f"{factory}() returned a {type(model).__name__}, not a "
                                "torch.nn.Module")
    return model


def _feeds(example: str | Path | Mapping[str, Any], torch: Any) -> dict[str, Any]:
    """The example's tensors: whole numbers as int64, others as float32."""
    if not isinstance(example, Mapping):
        example = read_example(Path(example), "example")
    if not isinstance(example, Mapping) or not example:
        raise InvalidInputError("the example must be a JSON object of forward's argument "
                                "names to values, e.g. {\"input_ids\": [[2, 7, 9]]}")
    feeds = {}
    for name, values in example.items():
        try:
            arr = np.asarray(values)
        except ValueError:
            raise InvalidInputError(f"example input {name!r} is ragged") from None
        if arr.dtype.kind not in "biuf":
            raise InvalidInputError(f"example input {name!r} must hold numbers")
        dtype = np.int64 if arr.dtype.kind in "biu" else np.float32
        feeds[str(name)] = torch.from_numpy(np.ascontiguousarray(arr.astype(dtype)))
    return feeds

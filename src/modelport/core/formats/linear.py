"""A few rows through a linear ONNX graph, without onnxruntime.

Why: onnxruntime's fixed cost per call dominates a single row of a linear
model — 5 µs in a tight loop, ~45 µs on a server whose caches the network
path keeps cold (measured under load: a LogisticRegression server answered
1.3–1.4× more single-row requests at c=1 and c=32 with the call replaced).
A graph that is one ``LinearClassifier`` or ``LinearRegressor`` — what skl2onnx writes for
LogisticRegression, LinearRegression, Ridge and the like — optionally after a
``Scaler`` (a StandardScaler in the pipeline, folded into the weights) and an
``Imputer`` of NaN (the SimpleImputer every trained linear model has: a missing
value becomes its column's fill value, only when the call has one) is one
dot product per output; in plain Python floats that is a few microseconds for
a row of tens of features, and it runs no code outside the interpreter.

A binary LogisticRegression is written as two outputs whose weights are each
other's negation (``σ(s)`` and ``σ(-s)``): the evaluator computes ``s`` once.

Python pays per multiplication where onnxruntime pays per call: the evaluator
takes a call only up to ``BUDGET`` multiply-adds (in a tight loop it matches
onnxruntime there: 4.5 vs 6.3 µs for a row of 20 features and 2 classes; at 256
features, 17 vs 6 µs). Larger calls and every other graph stay on onnxruntime,
and an evaluator is used only after it agreed with onnxruntime on random rows
when the model loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import mul
from typing import Any

import numpy as np

BUDGET = 128  # multiply-adds per call: rows × features × outputs
MAX_GRAPH_BYTES = 64 * 1024  # a graph within BUDGET is a few KiB
CHECK_ROWS = 16
CHECK_ATOL = 1e-5  # onnxruntime computes in float32, the evaluator in float64


def _logistic(scores: list[float]) -> list[float]:
    return [1.0 / (1.0 + math.exp(-s)) if s >= 0 else math.exp(s) / (1.0 + math.exp(s))
            for s in scores]


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _logistic_pair(scores: list[float]) -> list[float]:
    """``[σ(s), σ(-s)]`` for the one score ``s``, with one ``exp`` and both exact."""
    s = scores[0]
    e = math.exp(-s if s >= 0 else s)
    return [1.0 / (1.0 + e), e / (1.0 + e)] if s >= 0 else [e / (1.0 + e), 1.0 / (1.0 + e)]


TRANSFORMS: dict[str, Callable[[list[float]], list[float]]] = {
    "NONE": lambda scores: scores, "LOGISTIC": _logistic, "SOFTMAX": _softmax}


@dataclass(frozen=True)
class Linear:
    """``transform(x · w_k + b_k)`` for every output k."""

    outputs: tuple[tuple[list[float], float], ...]  # (w_k, b_k)
    transform: Callable[[list[float]], list[float]]
    max_rows: int  # the most rows a call may have within BUDGET
    fill: np.ndarray | None = None  # an Imputer's value per feature, for NaN

    def rows(self, x: np.ndarray) -> list[list[float]]:
        transform, outputs = self.transform, self.outputs
        if self.fill is None:
            return [transform([sum(map(mul, row, w)) + b for w, b in outputs])
                    for row in x.tolist()]
        out = []
        for row in x.tolist():
            scores = [sum(map(mul, row, w)) + b for w, b in outputs]
            if scores[0] != scores[0]:  # NaN: a value was missing (x holds no inf): impute
                row = [f if v != v else v for v, f in zip(row, self.fill.tolist(), strict=True)]
                scores = [sum(map(mul, row, w)) + b for w, b in outputs]
            out.append(transform(scores))
        return out


def compile_graph(data: bytes, session: Any, input_name: str, output_name: str
                  ) -> Linear | None:
    """The evaluator of the graph in ``data`` for ``output_name``, or None when the graph
    is not one linear map — ``[Imputer of NaN] → [Scaler] → LinearClassifier |
    LinearRegressor → [Normalizer L1]``, in a chain — or the evaluator disagrees with
    ``session``."""
    from modelport.core.formats.onnx_proto import attribute_value, parse_model

    if len(data) > MAX_GRAPH_BYTES:  # not parsed at all: a forest's graph can be large
        return None
    graph = parse_model(data).graph
    nodes = list(graph.node)
    attrs = [{a.name: attribute_value(a) for a in n.attribute} for n in nodes]
    imputer = scaler = normalizer = None
    linear_output = output_name  # the linear node's output the evaluator stands for
    if nodes and nodes[0].op_type == "Imputer":
        imputer = attrs.pop(0)
        nodes.pop(0)
    if nodes and nodes[0].op_type == "Scaler":
        scaler = attrs.pop(0)
        nodes.pop(0)
    if nodes and nodes[-1].op_type == "Normalizer":
        normalizer = attrs.pop()
        if normalizer.get("norm") != b"L1" or nodes[-1].output[0] != output_name:
            return None
        linear_output = nodes[-1].input[0]  # what it gives the normalizer
        nodes.pop()
    if len(graph.input) != 1 or len(nodes) != 1:
        return None
    node, attr = nodes[0], attrs[0]
    if node.op_type == "LinearClassifier":
        ok = linear_output in node.output[1:2]
        targets = len(attr.get("classlabels_ints") or attr.get("classlabels_strings") or [])
    elif node.op_type == "LinearRegressor":  # several targets: onnxruntime's shape stands
        ok, targets = linear_output in node.output, int(attr.get("targets", 1))
        ok = ok and targets == 1
    else:
        return None
    transform = TRANSFORMS.get((attr.get("post_transform") or b"NONE").decode())
    coefficients = [float(c) for c in attr.get("coefficients", [])]
    intercepts = [float(b) for b in attr.get("intercepts", [])] or [0.0] * targets
    if not ok or transform is None or not targets or len(intercepts) != targets \
            or len(coefficients) % targets or len(coefficients) > BUDGET:
        return None
    width = len(coefficients) // targets
    weights = [coefficients[k * width:(k + 1) * width] for k in range(targets)]
    if scaler is not None:  # w · ((x - o) * s) + b, folded into one map
        s = _per_feature(scaler.get("scale"), 1.0, width)
        o = _per_feature(scaler.get("offset"), 0.0, width)
        if s is None or o is None:
            return None
        intercepts = [b - sum(wj * sj * oj for wj, sj, oj in zip(w, s, o, strict=True))
                      for w, b in zip(weights, intercepts, strict=True)]
        weights = [[wj * sj for wj, sj in zip(w, s, strict=True)] for w in weights]
    if transform is _logistic and targets == 2 and intercepts[1] == -intercepts[0] \
            and all(a == -b for a, b in zip(*weights, strict=True)):
        weights, intercepts, transform = weights[:1], intercepts[:1], _logistic_pair
    if normalizer is not None:
        transform = _then_l1(transform)
    fill = None
    if imputer is not None:
        values = _per_feature(imputer.get("imputed_value_floats"), math.nan, width)
        if values is None or not all(map(math.isfinite, values)) \
                or not math.isnan(imputer.get("replaced_value_float", 0.0)):
            return None  # it replaces something else than NaN, or fills no number
        fill = np.array(values, dtype=np.float64)
    linear = Linear(tuple(zip(weights, intercepts, strict=True)), transform,
                    BUDGET // (width * len(weights)), fill)
    return linear if _agrees(linear, session, input_name, output_name, width) else None


def _then_l1(transform: Callable[[list[float]], list[float]]
             ) -> Callable[[list[float]], list[float]]:
    """``transform``, then each row divided by the sum of its absolute values."""
    def normalized(scores: list[float]) -> list[float]:
        values = transform(scores)
        total = sum(map(abs, values)) or 1.0
        return [v / total for v in values]
    return normalized


def _per_feature(values: Any, default: float, width: int) -> list[float] | None:
    """A Scaler's attribute for every feature: one value may stand for all."""
    given = [float(v) for v in values] if values else [default]
    if len(given) == 1:
        return given * width
    return given if len(given) == width else None


def _agrees(linear: Linear, session: Any, input_name: str, output_name: str,
            width: int) -> bool:
    rows = np.random.default_rng(0).normal(0.0, 3.0, (CHECK_ROWS, width)).astype(np.float32)
    if linear.fill is not None:  # the imputer is checked too: a NaN in every other row
        rows[np.arange(0, CHECK_ROWS, 2), np.arange(CHECK_ROWS // 2) % width] = np.nan
    try:
        expected = np.asarray(session.run([output_name], {input_name: rows})[0], np.float64)
    except Exception:  # onnxruntime raises its own untyped errors; keep it as it is
        return False
    got = np.asarray(linear.rows(rows), np.float64)
    return got.size == expected.size and bool(np.allclose(
        got.reshape(expected.shape), expected, atol=CHECK_ATOL, rtol=1e-4))

"""LightGBM's text model, checked line by line before LightGBM parses it.

LightGBM parses the trees of a model string in parallel, jumping to each
tree by the byte sizes in ``tree_sizes``; a parse error inside that parallel
region is not caught and *aborts the process* (a missing field, a wrong size,
a bad number, a child or feature index it rejects). Its walk also trusts
child, feature and category indices. So the whole tree section is parsed here
first, strictly: every size and count must agree, every number must parse,
and each tree must pass ``tree_check.check_tree`` (children in range, no node
reached twice, features within ``max_feature_idx``). Only then is the string
handed to LightGBM, which can then fail only with an exception.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelport.core.formats.tree_check import check_tree
from modelport.errors import InvalidInputError, UnsafeArtifactError

MAX_LEAVES = 131072  # LightGBM's own limit on num_leaves
MAX_FEATURES = 10_000_000
_PER_SPLIT = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_PER_SPLIT_OPTIONAL = ("split_gain", "internal_value", "internal_weight", "internal_count")
_PER_LEAF_OPTIONAL = ("leaf_weight", "leaf_count")


def check_lightgbm_text(text: str) -> int:
    """Validate a LightGBM model string; return its number of features. Text that is not
    a LightGBM model at all is an InvalidInputError, a malformed one UnsafeArtifactError."""
    data = text.encode()
    start = data.find(b"\nTree=")
    end = data.find(b"\nend of trees")
    if not data.startswith(b"tree\n") or start < 0 or end < start:
        raise InvalidInputError("not a loadable lightgbm model: no tree section")
    header = _header(data[:start])
    _trailer(data[end + 1:])
    n_features = _int(header, "max_feature_idx", 0, MAX_FEATURES - 1) + 1
    per_iteration = _int(header, "num_tree_per_iteration", 1, 100_000)
    _int(header, "num_class", 1, 100_000)
    if len(header.get("feature_names", "").split()) != n_features:
        raise _bad("feature_names does not name max_feature_idx + 1 features")
    blocks = _blocks(data[start + 1:end + 1])
    if not blocks or len(blocks) % per_iteration:
        raise _bad(f"{len(blocks)} trees for {per_iteration} per iteration")
    sizes = header.get("tree_sizes")
    if sizes is not None and sizes.split() != [str(len(b)) for b in blocks]:
        raise _bad("tree_sizes do not match the trees")
    for i, block in enumerate(blocks):
        _tree(i, block, n_features)
    return n_features


def _bad(why: str) -> UnsafeArtifactError:
    return UnsafeArtifactError(f"malformed LightGBM model: {why}")


def _header(raw: bytes) -> dict[str, str]:
    lines = raw.decode(errors="replace").splitlines()
    header: dict[str, str] = {}
    for line in lines[1:]:
        key, eq, value = line.partition("=")
        if eq:
            header[key.strip()] = value
    return header


def _trailer(raw: bytes) -> None:
    """After the trees, only the sections LightGBM writes: a stray ``Tree=`` line there
    crashes its loader."""
    lines = raw.decode(errors="replace").split("\n")
    if lines[0] != "end of trees" or sum(line == "end of trees" for line in lines) != 1:
        raise _bad("the tree section does not end once with 'end of trees'")
    section = ""
    for line in lines[1:]:
        if line in ("", "feature_importances:", "parameters:", "end of parameters") \
                or line.startswith("pandas_categorical:"):
            section = line
        elif not ((section == "feature_importances:" and "=" in line
                   and not line.startswith("Tree="))
                  or (section == "parameters:" and line.startswith("[")
                      and line.endswith("]"))):
            raise _bad(f"unexpected line after the trees: {line[:40]!r}")


def _blocks(section: bytes) -> list[bytes]:
    """Each ``Tree=i`` block as LightGBM counts its size: up to the next block."""
    starts = [0]
    while (at := section.find(b"\nTree=", starts[-1])) >= 0:
        starts.append(at + 1)
    return [section[a:b] for a, b in zip(starts, [*starts[1:], len(section)], strict=True)]


def _int(fields: dict[str, str], key: str, low: int, high: int) -> int:
    try:
        value = int(fields[key])
    except (KeyError, ValueError):
        raise _bad(f"{key} is missing or not an integer") from None
    if not low <= value <= high:
        raise _bad(f"{key}={value} is outside {low}..{high}")
    return value


def _array(fields: dict[str, str], key: str, n: int, kind: type, where: str) -> np.ndarray:
    if key not in fields:
        raise _bad(f"{where} has no {key}")
    tokens = fields[key].split()
    if len(tokens) != n:
        raise _bad(f"{where}: {key} has {len(tokens)} values, expected {n}")
    try:
        values = [kind(t) for t in tokens]
    except ValueError:
        raise _bad(f"{where}: {key} holds a value that is not a number") from None
    return np.asarray(values, dtype=np.int64 if kind is int else np.float64)


def _tree(index: int, block: bytes, n_features: int) -> None:
    where = f"tree {index}"
    lines = block.decode(errors="replace").splitlines()
    if lines[0] != f"Tree={index}":
        raise _bad(f"{where} is labelled {lines[0][:40]!r}")
    fields: dict[str, str] = {}
    for line in filter(None, lines[1:]):
        key, eq, value = line.partition("=")
        if not eq or key in fields:
            raise _bad(f"{where}: unexpected line {line[:40]!r}")
        fields[key] = value
    leaves = _int(fields, "num_leaves", 1, MAX_LEAVES)
    categories = _int(fields, "num_cat", 0, max(leaves - 1, 0))
    shrinkage = fields.get("shrinkage", "")
    if not _finite(shrinkage):
        raise _bad(f"{where}: shrinkage is not a finite number")
    if fields.get("is_linear", "0") != "0":
        raise _bad(f"{where}: linear trees are not supported")
    values = _array(fields, "leaf_value", leaves, float, where)
    for key in _PER_LEAF_OPTIONAL:
        if key in fields:
            _array(fields, key, leaves, float, where)
    if leaves == 1:
        if not np.isfinite(values).all():
            raise _bad(f"{where}: a leaf value is not finite")
        return
    splits = leaves - 1
    arrays: dict[str, Any] = {k: _array(fields, k, splits, int if k != "threshold" else float,
                                        where) for k in _PER_SPLIT}
    for key in _PER_SPLIT_OPTIONAL:
        if key in fields:
            _array(fields, key, splits, float, where)
    decision = arrays["decision_type"]
    if decision.min() < 0 or decision.max() > 255 or ((decision >> 2) & 3).max() > 2:
        raise _bad(f"{where}: a decision_type is not one LightGBM writes")
    _categorical(fields, where, decision, arrays["threshold"], categories)
    children = np.concatenate([arrays["left_child"], arrays["right_child"]])
    if children.max() >= splits or children.min() < -leaves:
        raise _bad(f"{where}: a child index is outside the tree")
    # one index space: splits 0..S-1, then leaf j at S + j (LightGBM writes leaf j as ~j)
    left, right = (np.where(a >= 0, a, splits + ~a) for a in (arrays["left_child"],
                                                               arrays["right_child"]))
    internal = np.arange(splits + leaves) < splits
    pad = np.zeros(leaves, dtype=np.int64)
    check_tree(f"LightGBM {where}", np.concatenate([left, pad]), np.concatenate([right, pad]),
               internal, np.concatenate([arrays["split_feature"], pad]),
               np.concatenate([arrays["threshold"], pad]), n_features, values=values)


def _categorical(fields: dict[str, str], where: str, decision: np.ndarray,
                 threshold: np.ndarray, categories: int) -> None:
    """A categorical split's threshold indexes ``cat_boundaries``, which slices
    ``cat_threshold``: all three must agree."""
    is_cat = (decision & 1) == 1
    if int(is_cat.sum()) != categories:  # LightGBM writes one category set per such split
        raise _bad(f"{where}: num_cat={categories} for {int(is_cat.sum())} categorical splits")
    if not categories:
        return
    bounds = _array(fields, "cat_boundaries", categories + 1, int, where)
    if bounds[0] != 0 or (np.diff(bounds) < 0).any():
        raise _bad(f"{where}: cat_boundaries are not increasing from 0")
    _array(fields, "cat_threshold", int(bounds[-1]), int, where)
    picks = threshold[is_cat]
    if (picks != np.floor(picks)).any() or picks.min() < 0 or picks.max() >= categories:
        raise _bad(f"{where}: a categorical split names a category set it does not have")


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False

"""Small deep-learning graphs built with ``onnx.helper`` for the import tests: the same
shapes a PyTorch export gives (named inputs, dynamic batch axis), no torch needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

USERS, ITEMS, DIM = 50, 80, 8


def two_tower(seed: int = 0, opset: int = 17) -> Any:
    """A recommender: score = sigmoid(<user embedding, item embedding>), for int64
    ``user_id`` and ``item_id`` tensors of shape [batch, 1]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    users = numpy_helper.from_array(rng.normal(size=(USERS, DIM)).astype(np.float32), "user_emb")
    items = numpy_helper.from_array(rng.normal(size=(ITEMS, DIM)).astype(np.float32), "item_emb")
    axes = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")
    nodes = [
        helper.make_node("Gather", ["user_emb", "user_id"], ["u"]),  # [batch, 1, DIM]
        helper.make_node("Gather", ["item_emb", "item_id"], ["i"]),
        helper.make_node("Mul", ["u", "i"], ["ui"]),
        helper.make_node("ReduceSum", ["ui", "axes"], ["dot"], keepdims=0),  # [batch, 1]
        helper.make_node("Sigmoid", ["dot"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "two_tower",
        [helper.make_tensor_value_info("user_id", TensorProto.INT64, ["batch", 1]),
         helper.make_tensor_value_info("item_id", TensorProto.INT64, ["batch", 1])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])],
        [users, items, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="pytorch", producer_version="2.5.0")
    onnx.checker.check_model(model)
    return model


def save(model: Any, path: Path, external: bool = False) -> Path:
    """Write ``model`` to ``path``; ``external``: its weights in ``weights.bin`` beside it."""
    import onnx

    if external:  # onnx moves the tensors of the model it saves out: save a copy
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        onnx.save_model(copy, str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path


def reference(model: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What onnxruntime itself answers on ``feeds``: the ground truth to compare with."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))

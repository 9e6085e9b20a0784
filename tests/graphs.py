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


WORDS = ["good", "great", "fine", "happy", "bad", "awful", "sad", "poor", "the", "movie",
         "was", "very", "really", "plot", "actors", "not"]
LABELS = ["negative", "neutral", "positive"]


def sentences(n: int, seed: int = 0) -> list[str]:
    """Generated text to train a tokenizer on (no download)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 12)))) for _ in range(n)]


def word_piece(path: Path, vocab_size: int = 60, max_length: int | None = None) -> Any:
    """A WordPiece tokenizer trained on ``sentences``, saved as tokenizer.json."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tokenizer.train_from_iterator(sentences(300), trainer)
    if max_length is not None:
        tokenizer.enable_truncation(max_length)
    tokenizer.save(str(path))
    return tokenizer


def text_classifier(vocab_rows: int, dim: int = 8, seed: int = 0) -> Any:
    """Embedding Gather → masked mean → MatMul → logits, over input_ids and
    attention_mask of shape [batch, sequence]: the shape of a small BERT-like export."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(size=(vocab_rows, dim)).astype(np.float32), "emb"),
        numpy_helper.from_array(rng.normal(size=(dim, len(LABELS))).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "seq"),
    ]
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"]),  # [b, s, d]
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "last"], ["m3"]),  # [b, s, 1]
        helper.make_node("Mul", ["e", "m3"], ["em"]),
        helper.make_node("ReduceSum", ["em", "seq"], ["summed"], keepdims=0),  # [b, d]
        helper.make_node("ReduceSum", ["m3", "seq"], ["count"], keepdims=0),  # [b, 1]
        helper.make_node("Div", ["summed", "count"], ["mean"]),
        helper.make_node("MatMul", ["mean", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "text_classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                       ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="pytorch", producer_version="2.5.0")
    onnx.checker.check_model(model)
    return model


def encoder(vocab_rows: int, dim: int = 8, seed: int = 0) -> Any:
    """Embedding Gather → Tanh: ``last_hidden_state`` [batch, sequence, dim] over input_ids
    and attention_mask, as a sentence encoder exports it (mean pooling left to the server)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    emb = numpy_helper.from_array(rng.normal(size=(vocab_rows, dim)).astype(np.float32), "emb")
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["e"]),
             helper.make_node("Tanh", ["e"], ["last_hidden_state"])]
    graph = helper.make_graph(
        nodes, "encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                       ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch", "sequence", dim])], [emb])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def text_reference(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """Softmax over onnxruntime's logits for ``texts`` tokenized (padded to the longest)."""
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    encodings = tokenizer.encode_batch(texts)
    feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
             "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
    logits = reference(model, feeds)["logits"].astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def batched(predictor: Any, requests: list[Any]) -> tuple[list[dict[str, np.ndarray]], list[int]]:
    """Every request through one off-loop ``Batcher`` at once (as for a model slower than
    the inline threshold): each request's outputs, and the rows of every graph call."""
    import asyncio

    from modelport.runtimes.serving.batching import Batcher

    calls: list[int] = []
    run = predictor.outputs_of_matrix

    def counted(x: Any) -> dict[str, np.ndarray]:
        calls.append(len(x))
        return run(x)

    predictor.outputs_of_matrix = counted
    batcher = Batcher(predictor, max_batch=64)
    batcher.inline = False

    async def fire() -> list[dict[str, np.ndarray]]:
        return await asyncio.gather(*(batcher.predict(predictor.matrix(r)) for r in requests))

    try:
        return asyncio.run(fire()), calls
    finally:
        batcher.close()


def mlp(features: int = 16, hidden: int = 32, classes: int = 4, seed: int = 0) -> Any:
    """An image-like float tensor ``pixels`` [batch, features] → MatMul → Relu → MatMul →
    ``logits``: weights int8 quantization applies to."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array((rng.normal(size=s) / np.sqrt(s[0])).astype(np.float32), n)
             for n, s in (("w1", (features, hidden)), ("w2", (hidden, classes)))]
    nodes = [helper.make_node("MatMul", ["pixels", "w1"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["logits"])]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model

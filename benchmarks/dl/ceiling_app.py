"""The ceiling: a hand-written OIP text endpoint — tokenizers + onnxruntime + softmax on a
bare ASGI callable under uvicorn, nothing else (no checks, no batching, no metrics).

    uvicorn ceiling_app:app   (with DL_MODEL_DIR set)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
from tokenizers import Tokenizer

ROOT = Path(os.environ["DL_MODEL_DIR"])
LABELS = (ROOT / "labels.txt").read_text().split()
TOKENIZER = Tokenizer.from_file(str(ROOT / "tokenizer.json"))
TOKENIZER.enable_padding(pad_id=TOKENIZER.token_to_id("[PAD]"), pad_token="[PAD]")
SESSION = ort.InferenceSession(str(ROOT / "reviews.onnx"), providers=["CPUExecutionProvider"])


def predict(texts: list[str]) -> dict[str, Any]:
    encodings = TOKENIZER.encode_batch(texts)
    feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
             "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
    logits = SESSION.run(None, feeds)[0].astype(np.float64)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    return {"model_name": "reviews", "outputs": [
        {"name": "prediction", "datatype": "BYTES", "shape": [len(texts)],
         "data": [LABELS[i] for i in proba.argmax(axis=1)]},
        {"name": "probabilities", "datatype": "FP64", "shape": list(proba.shape),
         "data": proba.ravel().tolist()}]}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    texts = orjson.loads(body)["inputs"][0]["data"]
    payload = orjson.dumps(predict(texts))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})

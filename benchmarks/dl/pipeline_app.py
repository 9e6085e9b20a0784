"""The plain way: a transformers ``pipeline("text-classification")`` behind uvicorn, answering
the same OIP request with the same labels and scores (torch on the CPU).

    uvicorn pipeline_app:app   (in the peers' virtualenv, with DL_MODEL_DIR set)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from transformers import pipeline

ROOT = Path(os.environ["DL_MODEL_DIR"])
CLASSIFY = pipeline("text-classification", model=str(ROOT / "hf"), tokenizer=str(ROOT / "hf"),
                    top_k=None, device="cpu")
LABELS = (ROOT / "labels.txt").read_text().split()


def predict(texts: list[str]) -> dict[str, Any]:
    results = CLASSIFY(texts)
    proba = [[next(s["score"] for s in scores if s["label"] == label) for label in LABELS]
             for scores in results]
    return {"model_name": "reviews", "outputs": [
        {"name": "prediction", "datatype": "BYTES", "shape": [len(texts)],
         "data": [LABELS[max(range(len(p)), key=p.__getitem__)] for p in proba]},
        {"name": "probabilities", "datatype": "FP64", "shape": [len(texts), len(LABELS)],
         "data": [x for p in proba for x in p]}]}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    texts = json.loads(body)["inputs"][0]["data"]
    payload = json.dumps(predict(texts)).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})

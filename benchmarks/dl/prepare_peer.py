"""Build the benchmark's text classifier, in the peers' virtualenv (torch + transformers):
a small BERT (2 layers, hidden 64, random weights — the cost of a forward pass, not its
accuracy, is measured) whose WordPiece tokenizer is trained here on generated text; saved
as a Hugging Face model directory for the transformers pipeline, and exported by
torch.onnx.export to the ONNX graph the two other servers run.

    .venv-peers/bin/python prepare_peer.py OUT_DIR
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

WORDS = ["good", "great", "fine", "happy", "bad", "awful", "sad", "poor", "the", "movie",
         "was", "very", "really", "plot", "actors", "not", "acting", "story", "ending", "music"]
LABELS = ["negative", "neutral", "positive"]
MAX_LENGTH = 64


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 24)))) for _ in range(n)]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(sentences(2000, 0), trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.enable_truncation(MAX_LENGTH)
    tokenizer.save(str(out / "tokenizer.json"))
    hf_tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(out / "tokenizer.json"),
                                           pad_token="[PAD]", unk_token="[UNK]",
                                           cls_token="[CLS]", sep_token="[SEP]",
                                           model_max_length=MAX_LENGTH)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=64,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
                        max_position_embeddings=MAX_LENGTH, num_labels=len(LABELS),
                        id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(out / "hf")
    hf_tokenizer.save_pretrained(out / "hf")
    (out / "labels.txt").write_text("\n".join(LABELS))

    class Logits(torch.nn.Module):  # the graph takes ids and mask, answers logits
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).logits

    example = hf_tokenizer(["good movie", "the plot was bad"], padding=True,
                           return_tensors="pt")
    axes = {"input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logits().eval(), (), str(out / "reviews.onnx"),
                          kwargs={"input_ids": example["input_ids"],
                                  "attention_mask": example["attention_mask"]},
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

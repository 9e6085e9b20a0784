"""The two PyTorch models the torch export test trains, exports and imports — a module
of the user's own, as ``models import --torch torch_models:build_text`` finds it."""

from __future__ import annotations

import os

import torch

VOCAB, DIM, CLASSES = 80, 16, 3
USERS, ITEMS = 40, 60


class TextClassifier(torch.nn.Module):
    """Token embeddings, their mean over the attention mask, one linear layer: logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, DIM)
        self.head = torch.nn.Linear(DIM, CLASSES)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


class TwoTower(torch.nn.Module):
    """A recommender: sigmoid of the dot product of a user's and an item's embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.users = torch.nn.Embedding(USERS, DIM)
        self.items = torch.nn.Embedding(ITEMS, DIM)

    def forward(self, user_id: torch.Tensor, item_id: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((self.users(user_id) * self.items(item_id)).sum(-1))


def _load(model: torch.nn.Module, name: str) -> torch.nn.Module:
    path = os.path.join(os.environ["TORCH_MODELS_DIR"], name)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


def build_text() -> torch.nn.Module:
    return _load(TextClassifier(), "text.pt")


def build_two_tower() -> torch.nn.Module:
    return _load(TwoTower(), "two_tower.pt")

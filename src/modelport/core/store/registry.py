"""The registry's contract with the store: models, their numbered versions, aliases, tags.

Records are plain JSON-shaped data, the same whether they come from SQL or,
later, from ``modelport server``; the lifecycle layer turns a version record
into its ``ModelVersion`` (whose signature is a ``Signature``). Version 0 in a
tag means the model itself.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NotRequired, Protocol, TypedDict

from modelport.errors import NotFoundError, TooLargeError

# what a model may be called (``lifecycle/refs.py`` checks references against it, and the
# server the model part of a prediction-log path)
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")
# the most versions one ``create_versions`` call registers: a transaction, a request body and
# the server's memory stay bounded, and a training job's "many models" (one per store,
# customer or series) fit a few calls
MAX_BATCH = 1000


class NewVersion(TypedDict):
    """What registering a version records; the store adds its number and ``created``."""

    format: str
    artifact_digest: str
    artifact_size: int
    sample_digest: str | None
    profile_digest: NotRequired[str | None]  # the training data's profile, if recorded
    signature: dict[str, Any]
    input_example: list[dict[str, Any]] | None
    metrics: dict[str, float]
    run_id: str | None
    dataset_digest: str | None
    description: str


class Registration(NamedTuple):
    """One version of a batch (``create_versions``): the model's name, the version, its tags."""

    name: str
    version: NewVersion
    tags: Mapping[str, str]


class VersionRecord(NewVersion):
    name: str
    version: int
    onnx: dict[str, Any] | None
    created: float
    aliases: list[str]
    tags: dict[str, str]


@dataclass
class Model:
    """A registered name: its versions' count and newest number, its aliases and tags."""

    name: str
    description: str
    created: float
    updated: float
    latest_version: int | None
    versions: int
    aliases: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# a tag whose key is this followed by a blob's digest names that blob as the version's
# (a published edge bundle): its project may read the blob
BLOB_TAG = "edge.bundle."


class RegistryRepository(Protocol):
    """Models and versions. Thread-safe; every method is one transaction.

    Missing models and versions raise ``NotFoundError`` naming what is missing.
    """

    def create_version(self, name: str, version: NewVersion, tags: Mapping[str, str],
                       now: float, number: int | None = None) -> int:
        """Record the next version of ``name`` (creating the model) and return its number.

        Numbers are handed out atomically: concurrent writers on any number of
        processes or machines never get the same one, and never reuse a deleted one.
        ``number``: keep the number a version has elsewhere (a copy of it, as an image's
        own workspace holds); one taken, deleted or not, is a ``ConflictError``, and later
        numbers continue after it.
        """
        ...

    def create_versions(self, batch: Sequence[Registration], now: float) -> list[int]:
        """Record every version of ``batch`` (creating models) in one transaction — all or
        none — and return their numbers in the batch's order.

        Numbered as ``create_version`` numbers (never shared with a concurrent writer,
        never reused); a model's versions in one batch get consecutive numbers in the
        batch's order. At most ``MAX_BATCH`` versions (``TooLargeError`` past it).
        """
        ...

    def referenced_digests(self, digests: Collection[str]) -> set[str]:
        """Those of ``digests`` some record names now, in any project: a version (its
        artifact, sample, profile, ONNX copy or tokenizer), an edge bundle's tag, a run's
        artifact, a stream's checkpoint — what GC must not delete."""
        ...

    def has_model(self, name: str) -> bool: ...

    def pick_version(self, name: str, aliases: Sequence[str], latest: bool) -> int | None:
        """The version the first of ``aliases`` that ``name`` has points at; failing
        that, its newest version if ``latest``; else None (also for a missing model).

        One call for what a reference means (``NAME@champion``, ``NAME``: the default
        alias or the newest), so resolving costs one round trip on any store.
        """
        ...

    def get_version(self, name: str, version: int) -> VersionRecord: ...

    def list_versions(self, name: str) -> list[VersionRecord]:
        """Newest first; empty for a model with no versions left."""
        ...

    def list_models(self) -> list[Model]:
        """By name."""
        ...

    def set_alias(self, name: str, alias: str, version: int) -> None: ...

    def delete_alias(self, name: str, alias: str) -> None: ...

    def set_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    def find_tag(self, key: str) -> tuple[str, int, str] | None:
        """Some (model, version, value) tagged ``key``, or None: how a tag that names
        one thing (a published bundle's digest) finds its version."""
        ...

    def set_description(self, name: str, version: int | None, description: str) -> None:
        """Describe the model (``version`` None) or one version."""
        ...

    def set_onnx(self, name: str, version: int, onnx: dict[str, Any]) -> None:
        """Record the outcome of exporting a version to ONNX."""
        ...

    def set_profile(self, name: str, version: int, digest: str) -> None:
        """Name ``digest`` as the version's profile — only if it has none: a recorded
        training profile is never replaced."""
        ...

    def delete_model(self, name: str) -> None:
        """The model with every version, alias and tag."""
        ...

    def delete_version(self, name: str, version: int) -> None:
        """One version, its aliases and tags; its number is never handed out again."""
        ...


def check_batch(batch: Sequence[Registration]) -> None:
    """Refuse a batch past ``MAX_BATCH`` before anything is written or sent."""
    if len(batch) > MAX_BATCH:
        raise TooLargeError(f"a batch registers at most {MAX_BATCH} versions, not "
                            f"{len(batch)} — split it into several calls")


def missing_model(name: str) -> NotFoundError:
    return NotFoundError(f"model {name!r} not found — list models with: modelport models list")


def missing_version(name: str, version: int) -> NotFoundError:
    return NotFoundError(f"model {name!r} has no version {version} — list them with: "
                         f"modelport models versions {name}")

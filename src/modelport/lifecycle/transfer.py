"""Copying model versions into another workspace, numbers and digests unchanged.

A container image carries its own small workspace (``modelport build``): the
versions it serves must answer to the same ``NAME:VERSION`` and the same digests
as in the registry they came from, or a client, a prediction log or a rollout
naming ``iris:3`` would meet an ``iris:1``. So a copy keeps its number (the store
refuses one already taken there) and every blob it names — the artifact, its
checked ONNX copy, the warm-up sample, the training profile, a text model's
tokenizer — goes through both artifact stores' digest checks on the way.

>>> copy_versions(["iris@champion"], source, target)   # doctest: +SKIP
[ModelVersion(name='iris', version=3, ...)]
"""

from __future__ import annotations

from collections.abc import Sequence

from modelport.core.store.registry import NewVersion
from modelport.core.workspace import Workspace
from modelport.lifecycle.refs import Ref
from modelport.lifecycle.registry import ModelVersion, get_model, get_version


def blobs_of(version: ModelVersion) -> list[str]:
    """Every digest ``version`` names, the artifact first: what a copy of it must carry."""
    text = version.signature.text
    named = [version.artifact_digest, version.sample_digest, version.profile_digest,
             (version.onnx or {}).get("digest"), text.tokenizer if text else None]
    return list(dict.fromkeys(d for d in named if d))


def copy_versions(refs: Sequence[str], source: Workspace, target: Workspace
                  ) -> list[ModelVersion]:
    """Copy the versions ``refs`` name from ``source`` into ``target`` with their blobs,
    ONNX record, tags and the aliases that point at them there; returns the copies."""
    versions = list(dict.fromkeys(get_version(ref, ws=source).ref for ref in refs))
    return [_copy(get_version(ref, ws=source), source, target) for ref in versions]


def _copy(version: ModelVersion, source: Workspace, target: Workspace) -> ModelVersion:
    for digest in blobs_of(version):  # get() re-hashes; put() names the bytes by their hash
        target.artifacts.put(source.artifacts.get(digest))
    record = NewVersion(
        format=version.format, artifact_digest=version.artifact_digest,
        artifact_size=version.artifact_size, sample_digest=version.sample_digest,
        profile_digest=version.profile_digest, signature=version.signature.to_dict(),
        input_example=version.input_example, metrics=dict(version.metrics),
        run_id=version.run_id, dataset_digest=version.dataset_digest,
        description=version.description)
    registry = target.store.registry
    registry.create_version(version.name, record, dict(version.tags), version.created,
                            number=version.version)
    if version.onnx is not None:
        registry.set_onnx(version.name, version.version, version.onnx)
    for alias, number in get_model(version.name, ws=source).aliases.items():
        if number == version.version:
            registry.set_alias(version.name, alias, number)
    return get_version(Ref(version.name, version=version.version), ws=target)

"""The registry repository's contract, on every store implementation and database."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from typing import Any

import pytest

from modelport.core.store import Store
from modelport.core.store.registry import NewVersion
from modelport.core.store.runs import RunRecord
from modelport.errors import ConflictError, InvalidInputError, NotFoundError


def run(run_id: str) -> RunRecord:
    return RunRecord(id=run_id, name=run_id, experiment="default", status="RUNNING",
                     start_time=1.0, end_time=None, duration=None, dataset_digest=None,
                     git_commit="abc", packages={})


def new(digest: str = "a" * 64, **changes: Any) -> NewVersion:
    record = NewVersion(
        format="skops", artifact_digest=digest, artifact_size=10, sample_digest="b" * 64,
        profile_digest=None, signature={"inputs": [{"name": "x", "dtype": "float64"}]},
        input_example=[{"x": 1.5}], metrics={"test_acc": 0.9}, run_id=None,
        dataset_digest=None, description="first")
    record.update(changes)  # type: ignore[typeddict-item]
    return record


def test_versions_are_numbered_and_read_back(store: Store) -> None:
    repo = store.registry
    assert repo.create_version("iris", new(), {"team": "ml"}, now=100.0) == 1
    assert repo.create_version("iris", new(description="second"), {}, now=101.0) == 2
    got = repo.get_version("iris", 1)
    assert got == {**new(), "name": "iris", "version": 1, "onnx": None, "created": 100.0,
                   "aliases": [], "tags": {"team": "ml"}}
    assert [v["version"] for v in repo.list_versions("iris")] == [2, 1]
    assert repo.pick_version("iris", [], latest=True) == 2
    assert repo.has_model("iris") and not repo.has_model("wine")
    [model] = repo.list_models()
    assert (model.name, model.latest_version, model.versions) == ("iris", 2, 2)
    assert (model.created, model.updated) == (100.0, 101.0)


def test_missing_models_and_versions_are_named(store: Store) -> None:
    repo = store.registry
    with pytest.raises(NotFoundError, match=r"model 'nope' not found"):
        repo.get_version("nope", 1)
    with pytest.raises(NotFoundError, match=r"model 'nope' not found"):
        repo.list_versions("nope")
    repo.create_version("iris", new(), {}, now=1.0)
    with pytest.raises(NotFoundError, match=r"model 'iris' has no version 7"):
        repo.get_version("iris", 7)
    with pytest.raises(NotFoundError, match=r"has no version 7"):
        repo.set_alias("iris", "champion", 7)
    with pytest.raises(NotFoundError, match=r"has no version 7"):
        repo.set_onnx("iris", 7, {"passed": True})
    with pytest.raises(NotFoundError, match=r"has no version 7"):
        repo.delete_version("iris", 7)
    with pytest.raises(NotFoundError, match=r"has no alias 'gone'"):
        repo.delete_alias("iris", "gone")
    for call in (lambda: repo.set_tag("nope", 0, "k", "v"), lambda: repo.delete_model("nope"),
                 lambda: repo.set_description("nope", None, "d")):
        with pytest.raises(NotFoundError, match=r"model 'nope' not found"):
            call()
    assert repo.pick_version("nope", ["champion"], latest=True) is None


def test_aliases_move_and_go(store: Store) -> None:
    repo = store.registry
    for _ in range(2):
        repo.create_version("iris", new(), {}, now=1.0)
    repo.set_alias("iris", "champion", 1)
    repo.set_alias("iris", "champion", 2)  # moves, never duplicates
    repo.set_alias("iris", "challenger", 1)
    assert repo.pick_version("iris", ["champion"], latest=False) == 2
    assert repo.pick_version("iris", ["nope", "challenger", "champion"], latest=False) == 1
    assert repo.pick_version("iris", ["nope"], latest=False) is None
    assert repo.pick_version("iris", ["nope"], latest=True) == 2
    assert repo.get_version("iris", 1)["aliases"] == ["challenger"]
    assert repo.list_models()[0].aliases == {"champion": 2, "challenger": 1}
    repo.delete_alias("iris", "champion")
    assert repo.pick_version("iris", ["champion"], latest=False) is None


def test_tags_descriptions_and_onnx(store: Store) -> None:
    repo = store.registry
    repo.create_version("iris", new(), {}, now=1.0)
    repo.set_tag("iris", 0, "owner", "ana")
    repo.set_tag("iris", 1, "stage", "dev")
    repo.set_tag("iris", 1, "stage", "prod")  # an update, not a second row
    repo.set_description("iris", None, "the flowers")
    repo.set_description("iris", 1, "v1")
    repo.set_onnx("iris", 1, {"passed": True, "max_abs_diff": 0.0})
    model = repo.list_models()[0]
    version = repo.get_version("iris", 1)
    assert (model.tags, model.description) == ({"owner": "ana"}, "the flowers")
    assert version["tags"] == {"stage": "prod"}
    assert (version["description"], version["onnx"]) == ("v1", {"passed": True,
                                                                "max_abs_diff": 0.0})


def test_deleted_numbers_are_never_reused(store: Store) -> None:
    repo = store.registry
    for _ in range(2):
        repo.create_version("iris", new(), {}, now=1.0)
    repo.set_alias("iris", "champion", 2)
    repo.set_tag("iris", 2, "k", "v")
    repo.delete_version("iris", 2)
    assert repo.pick_version("iris", ["champion"], latest=False) is None
    assert repo.pick_version("iris", [], latest=True) == 1
    assert repo.create_version("iris", new(), {}, now=2.0) == 3
    repo.delete_model("iris")
    assert repo.list_models() == [] and not repo.has_model("iris")
    assert repo.create_version("iris", new(), {}, now=3.0) == 1  # a new model starts over


def test_referenced_digests(store: Store) -> None:
    repo = store.registry
    repo.create_version("iris", new("a" * 64, sample_digest="c" * 64), {}, now=1.0)
    assert repo.referenced_digests(["a" * 64, "c" * 64, "d" * 64]) == {"a" * 64, "c" * 64}
    assert repo.referenced_digests([]) == set()
    repo.set_profile("iris", 1, "d" * 64)
    assert repo.referenced_digests(["d" * 64]) == {"d" * 64}


def test_every_record_that_names_a_blob_keeps_it_referenced(store: Store) -> None:
    """What GC asks before deleting a blob: every kind of record that names one counts
    (a version's artifact, sample, profile, ONNX copy and tokenizer, an edge bundle's tag,
    a run's artifact, a stream's checkpoint), in any project."""
    named = {part: hashlib.sha256(part.encode()).hexdigest() for part in (
        "artifact", "sample", "profile", "onnx", "tokenizer", "bundle", "run", "model",
        "window")}
    repo = store.registry
    signature = {"inputs": [{"name": "x", "dtype": "float64"}],
                 "text": {"tokenizer": named["tokenizer"]}}
    repo.create_version("iris", new(named["artifact"], sample_digest=named["sample"],
                                    profile_digest=named["profile"], signature=signature),
                        {}, now=1.0)
    repo.set_onnx("iris", 1, {"digest": named["onnx"], "size": 3})
    repo.set_tag("iris", 1, f"edge.bundle.{named['bundle']}", "bundle")
    store.runs.create_run(run("r1"))
    store.runs.log_artifact("r1", "model.bin", named["run"], 3)
    store.streams.start_stream("clicks", "c1", "iris:1", {}, now=1.0)
    store.streams.save_checkpoint("clicks", "c1", {"model": named["model"],
                                                   "window": named["window"]}, now=2.0)
    nobody = hashlib.sha256(b"nobody").hexdigest()
    assert repo.referenced_digests([*named.values(), nobody]) == set(named.values())


def test_a_blob_whose_record_is_gone_or_moved_on_is_no_longer_referenced(
        store: Store) -> None:
    """A record that no longer names a blob does not keep it: a deleted version (whose
    ``blob_owners`` rows are kept on purpose), a stream's earlier checkpoint, a run
    artifact logged again under its path, a deleted run, a deleted model."""
    old = {part: hashlib.sha256(part.encode()).hexdigest() for part in (
        "version", "checkpoint", "overwritten", "run", "model", "kept")}
    repo = store.registry
    repo.create_version("iris", new(old["kept"]), {}, now=1.0)
    repo.create_version("iris", new(old["version"]), {}, now=2.0)
    repo.delete_version("iris", 2)
    store.streams.start_stream("clicks", "c1", "iris:1", {}, now=1.0)
    store.streams.save_checkpoint("clicks", "c1", {"model": old["checkpoint"]}, now=2.0)
    store.streams.save_checkpoint("clicks", "c1", {"model": "e" * 64}, now=3.0)
    store.runs.create_run(run("r1"))
    store.runs.log_artifact("r1", "model.bin", old["overwritten"], 3)
    store.runs.log_artifact("r1", "model.bin", "f" * 64, 3)
    store.runs.create_run(run("r2"))
    store.runs.log_artifact("r2", "model.bin", old["run"], 3)
    store.runs.delete_run("r2")
    repo.create_version("gone", new(old["model"]), {}, now=1.0)
    repo.delete_model("gone")
    assert repo.referenced_digests([*old.values(), "e" * 64, "f" * 64]) == {
        old["kept"], "e" * 64, "f" * 64}


def test_a_recorded_profile_is_never_replaced(store: Store) -> None:
    repo = store.registry
    repo.create_version("iris", new(profile_digest="e" * 64), {}, now=1.0)
    repo.set_profile("iris", 1, "f" * 64)
    assert repo.get_version("iris", 1)["profile_digest"] == "e" * 64


def test_concurrent_writers_never_share_a_number(store: Store) -> None:
    threads, each = 6, 8
    numbers: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def register() -> None:
        start.wait()
        for _ in range(each):
            number = store.registry.create_version("race", new(), {}, now=time.time())
            with lock:
                numbers.append(number)

    workers = [threading.Thread(target=register) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(numbers) == list(range(1, threads * each + 1))
    assert store.registry.list_models()[0].versions == threads * each


def test_a_tag_key_finds_its_version(store: Store) -> None:
    repo = store.registry
    for _ in range(2):
        repo.create_version("iris", new(), {}, now=1.0)
    repo.set_tag("iris", 2, "edge.bundle.abc", '{"group": "all"}')
    assert repo.find_tag("edge.bundle.abc") == ("iris", 2, '{"group": "all"}')
    assert repo.find_tag("edge.bundle.xyz") is None


def _alias_tag_and_delete_at_once(repo: Any, name: str) -> None:
    """Set an alias and a tag on version 1 while deleting it, on three threads."""
    start = threading.Barrier(3)

    def attempt(call: Any) -> None:
        start.wait()
        with contextlib.suppress(NotFoundError):  # the version went first: refused, no row
            call()

    calls = (lambda: repo.set_alias(name, "champion", 1),
             lambda: repo.set_tag(name, 1, "stage", "prod"),
             lambda: repo.delete_version(name, 1))
    workers = [threading.Thread(target=attempt, args=(call,)) for call in calls]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_an_alias_or_tag_never_outlives_a_version_deleted_meanwhile(store: Store) -> None:
    repo = store.registry
    for round_ in range(8):
        name = f"m{round_}"
        repo.create_version(name, new(), {}, now=1.0)
        _alias_tag_and_delete_at_once(repo, name)
        model = repo.list_models()[-1]
        assert (model.name, model.versions, model.aliases) == (name, 0, {})
        assert repo.find_tag("stage") is None


def test_a_copied_version_keeps_its_number(store: Store) -> None:
    repo = store.registry
    assert repo.create_version("iris", new(), {}, now=1.0, number=3) == 3
    assert repo.create_version("iris", new(), {}, now=2.0) == 4  # numbering goes on after it
    assert sorted(v["version"] for v in repo.list_versions("iris")) == [3, 4]
    repo.delete_version("iris", 4)
    for taken in (3, 4, 1):  # held, deleted, or below a held one: never handed out twice
        with pytest.raises(ConflictError, match=f"iris:{taken} exists or existed"):
            repo.create_version("iris", new(), {}, now=3.0, number=taken)
    with pytest.raises(InvalidInputError, match="1 or more"):
        repo.create_version("other", new(), {}, now=3.0, number=0)
    assert not repo.has_model("other")  # the refused copy left nothing behind

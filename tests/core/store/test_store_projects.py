"""Projects' contract, on every store implementation and database: another project's
runs, models, endpoints and jobs look absent — the same answers a missing one gets."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from test_store_endpoints import ONE, rollout
from test_store_jobs import job
from test_store_registry import new
from test_store_runs import run

from modelport.core.store import Store
from modelport.core.store.engine import forget_stores
from modelport.core.store.runs import MetricValue, Term
from modelport.core.store.scoped import ScopedStore
from modelport.errors import ConflictError, InvalidInputError, NotFoundError

NEWEST = [(Term("attributes", "start_time"), True)]


@pytest.fixture
def vision(store: Any) -> Iterator[Any]:
    """The same store as project ``vision`` sees it."""
    other = store.in_project("vision")
    yield other
    if hasattr(other, "close"):
        other.close()


def _fill(store: Store, suffix: str) -> None:
    store.runs.create_run(run(f"run-{suffix}"))
    store.runs.log_batch(f"run-{suffix}", {}, [MetricValue("acc", 0, 0.9)], {}, now=1.0)
    store.registry.create_version(f"model-{suffix}", new(), {f"bundle-{suffix}": suffix}, now=1.0)
    store.endpoints.create_endpoint(f"api-{suffix}", ONE, now=1.0)
    store.jobs.create_job(job(f"job-{suffix}", 1.0))
    store.streams.start_stream(f"stream-{suffix}", "c1", f"model-{suffix}:1", {}, now=1.0)


def _answers(vision: Any, names: dict[str, str]) -> list[Any]:
    """What ``vision`` answers about these objects, their names blanked out."""
    run_id, model, endpoint, job_id, stream = (
        names[k] for k in ("run", "model", "endpoint", "job", "stream"))
    calls = [lambda: vision.runs.get_runs([run_id]),
             lambda: vision.runs.metric_history(run_id, "acc"),
             lambda: vision.runs.ids_starting_with(run_id, 10),
             lambda: vision.runs.delete_run(run_id),
             lambda: vision.runs.log_batch(run_id, {"p": "1"}, [], {}, now=2.0),
             lambda: vision.runs.end_run(run_id, "FINISHED", 2.0, 1.0),
             lambda: vision.registry.has_model(model),
             lambda: vision.registry.pick_version(model, ["champion"], True),
             lambda: vision.registry.get_version(model, 1),
             lambda: vision.registry.list_versions(model),
             lambda: vision.registry.set_alias(model, "champion", 1),
             lambda: vision.registry.delete_model(model),
             lambda: vision.endpoints.get_endpoint(endpoint),
             lambda: vision.endpoints.active_rollout(endpoint),
             lambda: vision.endpoints.latest_rollout(endpoint),
             lambda: vision.endpoints.rollout_history(endpoint),
             lambda: vision.endpoints.set_policy(endpoint, ONE, now=2.0),
             lambda: vision.endpoints.delete_endpoint(endpoint),
             lambda: vision.stats.read_windows(endpoint, 0.0),
             lambda: vision.jobs.get_job(job_id),
             lambda: vision.jobs.find_jobs(job_id, 10),
             lambda: vision.jobs.set_progress(job_id, 5, 0, 1),
             lambda: vision.streams.get_stream(stream, "c1"),
             lambda: vision.streams.list_streams(stream),
             lambda: vision.streams.heartbeat(stream, "c1", {"events": 9}, "stopped", 2.0),
             lambda: vision.streams.save_checkpoint(stream, "c1", {"events": 9}, 2.0)]
    answers = []
    for call in calls:
        try:
            answer = repr(call())
        except NotFoundError as exc:
            answer = f"404 {exc}"
        for name in names.values():
            answer = answer.replace(name, "NAME")
        answers.append(answer)
    return answers


def test_each_project_sees_only_its_own(store: Store, vision: Any) -> None:
    _fill(store, "a")
    _fill(vision, "b")
    for mine, theirs, other in ((store, "a", "b"), (vision, "b", "a")):
        found = mine.runs.search([], NEWEST, None, None, None).runs
        assert [r.id for r in found] == [f"run-{theirs}"]
        assert [r.id for r in mine.runs.get_runs([f"run-{other}", f"run-{theirs}"])] == [
            f"run-{theirs}"]
        assert [m.name for m in mine.registry.list_models()] == [f"model-{theirs}"]
        assert [e["name"] for e in mine.endpoints.list_endpoints()] == [f"api-{theirs}"]
        assert list(mine.endpoints.endpoint_revisions()) == [f"api-{theirs}"]
        assert [j["id"] for j in mine.jobs.list_jobs(10, None, None, None)] == [
            f"job-{theirs}"]
        assert mine.registry.find_tag(f"bundle-{theirs}") == (f"model-{theirs}", 1, theirs)
        assert mine.registry.find_tag(f"bundle-{other}") is None
        assert [s.name for s in mine.streams.list_streams(None)] == [f"stream-{theirs}"]
        assert mine.streams.get_stream(f"stream-{other}", "c1") is None
    assert vision.jobs.get_job("job-b")["project"] == "vision"
    assert vision.runs.get_runs(["run-b"])[0].project == "vision"
    vision.streams.start_stream("stream-b", "c2", "model-b:1", {}, now=2.0)  # a second consumer
    assert [s.project for s in vision.streams.list_streams("stream-b")] == ["vision"] * 2


def test_another_projects_objects_answer_as_missing_ones(store: Store, vision: Any) -> None:
    _fill(store, "a")
    absent = {"run": "run-zz", "model": "model-zz", "endpoint": "api-zz", "job": "job-zz",
              "stream": "stream-zz"}
    present = {"run": "run-a", "model": "model-a", "endpoint": "api-a", "job": "job-a",
               "stream": "stream-a"}
    assert _answers(vision, present) == _answers(vision, absent)
    assert sum(a.startswith("404") for a in _answers(vision, present)) == 9
    # and vision's calls changed nothing of the default project's
    assert store.jobs.get_job("job-a")["rows"] == 0
    assert store.registry.pick_version("model-a", ["champion"], False) is None
    assert store.runs.get_runs(["run-a"])[0].params == {}
    assert store.endpoints.get_endpoint("api-a") is not None
    stream = store.streams.get_stream("stream-a", "c1")
    assert stream is not None and (stream.state, stream.checkpoint) == ("running", None)
    with pytest.raises(NotFoundError):
        vision.endpoints.start_rollout(rollout("r1", 1.0), ONE, _event())


def _event() -> Any:
    from modelport.core.store.endpoints import Event

    return Event(at=1.0, action="start", state="running", reason="test", metrics=None)


def test_a_projects_jobs_are_listed_past_newer_jobs_of_others(store: Store,
                                                               vision: Any) -> None:
    vision.jobs.create_job(job("old", 1.0))
    for i in range(5):  # newer, in the default project
        store.jobs.create_job(job(f"new{i}", 10.0 + i))
    assert [j["id"] for j in vision.jobs.list_jobs(2, None, None, None)] == ["old"]
    assert [j["id"] for j in store.jobs.list_jobs(2, None, None, None)] == ["new4", "new3"]


def test_a_name_another_project_holds_is_taken(store: Store, vision: Any) -> None:
    _fill(store, "a")
    with pytest.raises(ConflictError, match="model name 'model-a' is taken"):
        vision.registry.create_version("model-a", new(), {}, now=2.0)
    with pytest.raises(ConflictError, match="endpoint name 'api-a' is taken"):
        vision.endpoints.create_endpoint("api-a", ONE, now=2.0)
    with pytest.raises(ConflictError, match="run 'run-a' already exists"):
        vision.runs.create_run(run("run-a"))
    whole = dataclasses.replace(run("run-a"), status="FINISHED", params={"p": "1"},
                                metrics={"m": 1.0}, tags={"t": "1"})
    with pytest.raises(ConflictError, match="run 'run-a' already exists"):
        vision.runs.log_run(whole, [], now=2.0)  # the store refuses it: nothing is written
    [kept] = store.runs.get_runs(["run-a"])
    assert (kept.status, kept.params, kept.metrics, kept.tags) == ("RUNNING", {}, {"acc": 0.9}, {})
    with pytest.raises(ConflictError, match="job 'job-a' already exists"):
        vision.jobs.create_job(job("job-a", 2.0))
    with pytest.raises(ConflictError, match="stream name 'stream-a' is taken"):
        vision.streams.start_stream("stream-a", "c2", "model-a:1", {}, now=2.0)
    assert [v["version"] for v in store.registry.list_versions("model-a")] == [1]


def test_a_search_cannot_name_its_way_into_another_project(store: Store, vision: Any) -> None:
    from modelport.core.store.runs import Condition

    _fill(store, "a")
    sneaky = [Condition(Term("attributes", "project"), "=", "default")]
    assert vision.runs.search(sneaky, NEWEST, None, None, None).runs == []


def test_a_project_name_is_checked(store: Any) -> None:
    for bad in ("", "a b", "../x", "-x", "x" * 101, "é"):
        with pytest.raises(InvalidInputError, match="invalid project name"):
            store.in_project(bad)


def test_projects_are_listed_with_their_objects_counted(store: Store, vision: Any) -> None:
    from modelport.core.store.projects import ProjectSummary

    assert store.projects.list_projects() == [ProjectSummary("default")]
    _fill(vision, "b")
    vision.registry.create_version("model-c", new(), {}, now=1.0)
    vision.streams.start_stream("stream-b", "c2", "model-b:1", {}, now=2.0)  # one stream
    assert store.projects.list_projects() == vision.projects.list_projects() == [
        ProjectSummary("default"), ProjectSummary("vision", runs=1, models=2, endpoints=1,
                                                  jobs=1, streams=1)]


def test_a_blob_is_seen_by_the_projects_whose_records_name_it(settings: Any) -> None:
    """On SQL (what the team server checks artifact requests with), on both databases: the
    JSON paths — an ONNX copy's digest, a tokenizer's, a checkpoint's — are read by each."""
    from modelport.core.store import open_store

    default = open_store(settings.db_url)
    vision, limited = default.in_project("vision"), ScopedStore(default.inner, "vision",
                                                                models=frozenset({"other"}))
    blob = {name: hashlib.sha256(name.encode()).hexdigest() for name in (
        "model", "sample", "profile", "onnx", "tokenizer", "logged", "checkpoint", "window",
        "bundle")}
    vision.registry.create_version("m", new(blob["model"], sample_digest=blob["sample"],
                                            profile_digest=blob["profile"], signature={
        "inputs": [], "text": {"tokenizer": blob["tokenizer"]}}), {}, now=1.0)
    vision.registry.set_onnx("m", 1, {"digest": blob["onnx"], "size": 1})
    vision.runs.create_run(run("r"))
    vision.runs.log_artifact("r", "model.bin", blob["logged"], 1)
    vision.streams.start_stream("s", "c", "m:1", {}, now=1.0)
    vision.streams.save_checkpoint("s", "c", {"model": blob["checkpoint"],
                                              "window": blob["window"]}, now=2.0)
    vision.registry.set_tag("m", 1, "edge.bundle." + blob["bundle"], "{}")  # published
    for name, digest in blob.items():
        assert vision.sees_artifact(digest), name
        assert not default.sees_artifact(digest), name
        # a key limited to other models: the model's blobs only are out of its view
        assert limited.sees_artifact(digest) == (name in ("logged", "checkpoint", "window"))
    assert not default.sees_artifact("f" * 64)  # nothing names it: no one's
    forget_stores()


def test_a_blob_is_its_uploaders_and_a_deleted_records_blobs_are_no_longer_named(
        settings: Any) -> None:
    from modelport.core.store import open_store

    default = open_store(settings.db_url)
    vision = default.in_project("vision")
    limited = ScopedStore(default.inner, "vision", models=frozenset({"other"}))
    fresh, versioned, logged = (hashlib.sha256(n).hexdigest() for n in (b"1", b"2", b"3"))
    for digest in (fresh, versioned, logged):
        vision.uploaded(digest)
        vision.uploaded(digest)  # again: nothing changes
    assert default.inner.projects.artifact_owners(fresh) == {("uploads", "vision", "vision")}
    assert vision.sees_artifact(fresh) and limited.sees_artifact(fresh)
    assert not default.sees_artifact(fresh)
    default.uploaded(fresh)  # a second project with the same bytes: both own them
    assert default.sees_artifact(fresh) and vision.sees_artifact(fresh)
    vision.registry.create_version("m", new(versioned), {}, now=1.0)
    vision.runs.create_run(run("r"))
    vision.runs.log_artifact("r", "model.bin", logged, 1)
    # once a model out of its view names it, a limited key's upload no longer counts
    assert not limited.sees_artifact(versioned) and limited.sees_artifact(logged)
    vision.registry.delete_model("m")
    vision.runs.delete_run("r")
    assert default.inner.projects.artifact_owners(versioned) == {
        ("uploads", "vision", "vision")} == default.inner.projects.artifact_owners(logged)
    assert limited.sees_artifact(versioned)
    forget_stores()


class _Crash(Exception):
    pass


def test_a_new_object_is_in_its_project_from_its_first_statement(
        settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is created in ``default`` and then moved: read unscoped the moment each
    create returns — and with the process dying right there — every new object is already
    the creating project's, and never one of ``default``'s."""
    from modelport.core.store import open_store

    inner = open_store(settings.db_url).inner
    found: dict[str, tuple[str | None, bool]] = {}

    def crashing(repo: Any, method: str, kind: str, key: str) -> None:
        create = getattr(repo, method)

        def created_then_crash(*args: Any, **kwargs: Any) -> Any:
            create(*args, **kwargs)
            found[kind] = (inner.projects.project_of(kind, key),
                           key in inner.projects.keys_in(kind, "default"))
            raise _Crash

        monkeypatch.setattr(repo, method, created_then_crash)

    for repo, method, kind, key in (
            (inner.runs, "create_run", "runs", "r1"),
            (inner.registry, "create_version", "models", "m1"),
            (inner.endpoints, "create_endpoint", "endpoints", "e1"),
            (inner.jobs, "create_job", "jobs", "j1"),
            (inner.streams, "start_stream", "streams", "s1")):
        crashing(repo, method, kind, key)
    vision = ScopedStore(inner, "vision")
    for create in (lambda: vision.runs.create_run(run("r1")),
                   lambda: vision.registry.create_version("m1", new(), {}, now=1.0),
                   lambda: vision.endpoints.create_endpoint("e1", ONE, now=1.0),
                   lambda: vision.jobs.create_job(job("j1", 1.0)),
                   lambda: vision.streams.start_stream("s1", "c1", "m1:1", {}, now=1.0)):
        with pytest.raises(_Crash):
            create()
    assert found == {kind: ("vision", False)
                     for kind in ("runs", "models", "endpoints", "jobs", "streams")}
    default = ScopedStore(inner)
    assert default.registry.list_models() == default.endpoints.list_endpoints() == []
    assert [m.name for m in vision.registry.list_models()] == ["m1"]
    forget_stores()


def test_two_projects_racing_to_create_one_model_name_cannot_share_it(settings: Any) -> None:
    """Both asked and found the name free; the second to write is refused as a name taken —
    never given a version inside the first's model (on both databases' statements: with
    and without a copied version's number)."""
    from modelport.core.store import open_store

    inner = open_store(settings.db_url).inner
    inner.registry.create_version("m", new(), {}, now=1.0, project="vision")
    for number in (None, 7):
        with pytest.raises(ConflictError, match="model name 'm' is taken"):
            inner.registry.create_version("m", new("c" * 64), {}, 2.0, number, project="default")
    assert [v["version"] for v in inner.registry.list_versions("m")] == [1]
    assert inner.projects.artifact_owners("c" * 64) == set()
    assert inner.registry.create_version("m", new(), {}, now=3.0, project="vision") == 2
    forget_stores()

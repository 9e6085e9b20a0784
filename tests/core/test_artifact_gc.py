"""The collector on each kind of store it reaches itself — a directory, an fsspec URL over
a directory (``local://``), fsspec's memory store: it deletes a blob only when no record
names it and it was last stored (written, or found by a writer) before the grace period;
it never touches a name that is not a blob's, nor follows a link out of the store."""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

import fsspec
import pytest

from modelport.core.artifact_gc import Collected, check_grace
from modelport.core.artifacts import ArtifactStore, FsspecArtifactStore, sha256
from modelport.core.store import open_artifacts
from modelport.errors import InvalidInputError

HOUR = 3600.0


def nothing_named(digests: Collection[str]) -> set[str]:
    return set()


def named(*kept: str):  # type: ignore[no-untyped-def]
    def answer(digests: Collection[str]) -> set[str]:
        return set(digests) & set(kept)
    return answer


def age(paths: list[Path], seconds: float) -> None:
    """Make files look last written ``seconds`` ago (a directory's blobs or markers)."""
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


@pytest.fixture(params=["directory", "local-fsspec"])
def on_disk(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ArtifactStore, Path]:
    root = tmp_path / "store"
    url = str(root) if request.param == "directory" else f"local://{root}"
    return open_artifacts(url), root


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_only_old_unnamed_blobs_go(on_disk: tuple[ArtifactStore, Path]) -> None:
    store, root = on_disk
    kept, old, young = (store.put(bytes([i]) * 1000) for i in range(3))
    age(files(root), 2 * HOUR)
    store.put(bytes([2]) * 1000)  # a writer found `young` stored: its age starts again
    dry = store.collect(named(kept), HOUR, dry_run=True)
    assert (dry.deleted, dry.bytes, dry.named, dry.recent) == ([old], 1000, 1, 1)
    assert all(store.exists(d) for d in (kept, old, young))  # a dry run deletes nothing
    done = store.collect(named(kept), HOUR)
    assert (done.deleted, done.dry_run) == ([old], False)
    assert store.exists(kept) and store.exists(young) and not store.exists(old)
    assert store.collect(nothing_named, 10 * HOUR).deleted == []  # all stored lately


def test_a_blob_found_by_a_writer_is_kept_until_its_grace_passes_again(
        on_disk: tuple[ArtifactStore, Path]) -> None:
    store, root = on_disk
    digest = store.put(b"shared sample")
    age(files(root), 2 * HOUR)
    assert store.touch(digest) and not store.touch(sha256(b"never stored"))
    assert store.collect(nothing_named, HOUR).recent == 1 and store.exists(digest)
    age(files(root), 2 * HOUR)  # the touch is old too now (an object store's marker with it)
    assert store.collect(nothing_named, HOUR).deleted == [digest]
    assert files(root) == []  # the blob and its marker: nothing of it left


def test_names_that_are_not_blobs_are_never_touched(on_disk: tuple[ArtifactStore, Path],
                                                    tmp_path: Path) -> None:
    store, root = on_disk
    digest = store.put(b"blob")
    others = [root / "sha256" / digest[:2] / ".tmp-upload", root / "sha256" / "xy" / "z",
              root / "predictions" / "model=iris" / "part-1.parquet", root / "README"]
    for path in others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a blob")
    outside = tmp_path / "outside"  # a blob-shaped name behind a link out of the store
    outside.mkdir()
    lure = outside / ("0" * 62)
    lure.write_bytes(b"someone else's")
    (root / "sha256" / "00").symlink_to(outside, target_is_directory=True)
    age([*files(root), lure], 2 * HOUR)
    assert store.collect(nothing_named, HOUR).deleted == [digest]
    assert all(p.exists() for p in (*others, lure))


def test_the_memory_store(tmp_path: Path) -> None:
    store = open_artifacts(f"memory://gc-{tmp_path.name}")
    assert isinstance(store, FsspecArtifactStore)
    kept, gone = store.put(b"named"), store.put(b"unnamed")
    assert store.collect(nothing_named, HOUR).deleted == []
    time.sleep(0.01)
    assert store.collect(named(kept), 0).deleted == [gone]
    assert store.exists(kept) and not store.exists(gone)
    fsspec.filesystem("memory").rm(f"/gc-{tmp_path.name}", recursive=True)


@pytest.mark.parametrize("grace", [-1, float("nan"), float("inf"), "1h", True])
def test_a_grace_that_is_not_seconds_is_refused(grace: object) -> None:
    with pytest.raises(InvalidInputError, match="grace period"):
        check_grace(grace)  # type: ignore[arg-type]


def test_a_report_round_trips() -> None:
    report = Collected(60.0, True, ["a" * 64], 3, 1, 2)
    assert Collected.from_dict(report.to_dict()) == report

"""download_artifact: a run's artifacts back as files, digest checked, never outside out_dir."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelport
from modelport.core.workspace import Workspace
from modelport.errors import ArtifactIntegrityError, InvalidInputError, NotFoundError
from modelport.lifecycle.tracking import create_run


def _run(ws: Workspace, files: dict[str, bytes]) -> str:
    run = create_run(ws=ws)
    for path, data in files.items():
        run.log_artifact(data, path)
    run.end()
    return run.id


def test_one_a_folder_or_all(ws: Workspace, tmp_path: Path) -> None:
    run_id = _run(ws, {"report.html": b"<p>ok</p>", "study/history.html": b"h",
                       "study/best.json": b"{}"})
    out = tmp_path / "out"
    assert modelport.download_artifact(run_id[:8], "report.html", out, ws=ws) == [
        out / "report.html"]
    assert (out / "report.html").read_bytes() == b"<p>ok</p>"
    assert modelport.download_artifact(run_id, "study/", tmp_path / "s", ws=ws) == [
        tmp_path / "s" / "study/best.json", tmp_path / "s" / "study/history.html"]
    every = modelport.download_artifact(run_id, out_dir=tmp_path / "all", ws=ws)
    assert sorted(p.relative_to(tmp_path / "all").as_posix() for p in every) == [
        "report.html", "study/best.json", "study/history.html"]
    with pytest.raises(NotFoundError, match="has no artifact 'nope'"):
        modelport.download_artifact(run_id, "nope", out, ws=ws)
    with pytest.raises(NotFoundError, match="run 'ffff' not found"):
        modelport.download_artifact("ffff", "report.html", out, ws=ws)


@pytest.mark.storage_independent
@pytest.mark.parametrize("hostile", ["../escape.txt", "/tmp/escape.txt", "a/../../escape.txt",
                                     "a/b/../../../escape.txt", ".", "a\x00b"])
def test_no_path_escapes_out_dir(ws: Workspace, tmp_path: Path, hostile: str,
                                 backend: str) -> None:
    if "\x00" in hostile:  # no store keeps such a path: refused as it is logged
        with pytest.raises(InvalidInputError, match="the store refused a value"):
            _run(ws, {"fine.txt": b"fine", hostile: b"evil"})
        return
    run_id = _run(ws, {"fine.txt": b"fine", hostile: b"evil"})
    out = tmp_path / "deep" / "out"
    with pytest.raises(InvalidInputError, match="outside"):
        modelport.download_artifact(run_id, out_dir=out, ws=ws)
    assert not (tmp_path / "deep" / "escape.txt").exists()
    assert not (out / "fine.txt").exists()  # checked before the first byte is written


@pytest.mark.storage_independent
def test_a_symlink_in_out_dir_does_not_lead_out(ws: Workspace, tmp_path: Path,
                                                backend: str) -> None:
    run_id = _run(ws, {"link/escape.txt": b"evil"})
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="outside"):
        modelport.download_artifact(run_id, out_dir=out, ws=ws)
    assert list(outside.iterdir()) == []


@pytest.mark.storage_independent
def test_a_tampered_blob_is_refused_and_not_written(ws: Workspace, tmp_path: Path,
                                                    backend: str) -> None:
    run_id = _run(ws, {"model.bin": b"the real bytes"})
    digest = modelport.get_run(run_id, ws=ws).artifacts["model.bin"]
    blob = Path(ws.settings.artifacts_url) / "sha256" / digest[:2] / digest[2:]
    blob.write_bytes(b"the fake bytes")
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded digest"):
        modelport.download_artifact(run_id, out_dir=tmp_path / "out", ws=ws)
    assert not (tmp_path / "out" / "model.bin").exists()


@pytest.mark.storage_independent
def test_out_dir_that_is_a_file_is_refused(ws: Workspace, tmp_path: Path, backend: str) -> None:
    run_id = _run(ws, {"a.txt": b"a"})
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="is a file"):
        modelport.download_artifact(run_id, out_dir=tmp_path / "file", ws=ws)

"""Getting a run's artifacts back as files: a report, a plot, the model itself.

Artifact paths are whatever the code that logged them chose, so each one is
treated as hostile on the way out: every target is resolved and must land
inside the output directory (no ``..``, no absolute path, no symlink out),
all targets are checked before the first byte is written, and each file is
written whole (temp file + rename) from bytes whose digest was verified.
"""

from __future__ import annotations

from pathlib import Path

from modelport.core.artifacts import write_whole
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.search import get_run


def download_artifact(run_id: str, path: str | None = None, out_dir: str | Path = ".",
                      ws: Workspace | None = None) -> list[Path]:
    """Copy a run's artifact into ``out_dir``, keeping its path; returns the files written.

    ``path`` names one artifact, or a folder of them (``study/``); without it,
    every artifact of the run is copied. ``run_id`` may be any unique start of
    the id.

    >>> modelport.download_artifact("3f9a1c", "report.html", "out")  # doctest: +SKIP
    [PosixPath('out/report.html')]
    """
    ws = current(ws)
    run = get_run(run_id, ws=ws)
    chosen = _chosen(run.artifacts, path, run.id)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {str(out)!r} is a file, not a directory")
    targets = {name: _inside(out, name) for name in chosen}
    written = []
    for name, target in targets.items():
        write_whole(target, ws.artifacts.get(run.artifacts[name]))
        written.append(out / name)
    return written


def _chosen(artifacts: dict[str, str], path: str | None, run_id: str) -> list[str]:
    if path is None:
        return sorted(artifacts)
    folder = path.rstrip("/") + "/"
    chosen = sorted(name for name in artifacts if name == path or name.startswith(folder))
    if not chosen:
        raise NotFoundError(f"run {run_id} has no artifact {path!r} — list them with: "
                            f"modelport runs artifacts {run_id[:12]}")
    return chosen


def _inside(out: Path, name: str) -> Path:
    root = out.resolve()
    try:
        target = (root / name).resolve()
    except (ValueError, OSError):  # an embedded NUL, a path too long
        target = root
    if target == root or not target.is_relative_to(root):
        raise InvalidInputError(f"artifact path {name!r} would be written outside "
                                f"{str(out)!r}; refusing to download it")
    return target


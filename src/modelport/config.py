"""The one settings object: ``MODELPORT_*`` environment variables, overridable by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# modelport.__version__ — kept here, on the ground floor, so that any layer may name it
# (the protocols report it) without importing the package's whole public API
VERSION = "0.1.0"

# Which copy of a version answers, for every runtime that loads one (serve, batch, stream,
# predict, the Python API): "auto" is the ONNX copy when the version has one that passed
# its parity check at registration, else the native model; "native" and "onnx" force one.
# One default, here, so the four cannot drift apart again. "auto" because onnxruntime
# was measured faster on the paths that score few rows per call — serving (a forest 7,783
# vs 206 requests/s unbatched, benchmarks/results/serving.md), stream micro-batches and
# predict (64 rows: logistic regression 0.14 vs 1.6 µs/row, forest 5.0 vs 81) — and on
# whole batch chunks for linear models (0.026 vs 0.090 µs/row at 100k rows); a forest's
# 100k-row chunk is the one case measured faster native (4.1 vs 4.5 µs/row, load 3 on two
# cores): pass --runtime native to batch jobs of large tree ensembles.
RUNTIMES = ("auto", "native", "onnx")
DEFAULT_RUNTIME = "auto"


@dataclass(frozen=True)
class Settings:
    """Where modelport keeps its metadata and artifacts.

    ``home`` holds the embedded defaults (SQLite database and local artifacts);
    ``db_url`` and ``artifacts_url`` point elsewhere for a shared deployment.
    """

    home: Path = field(default_factory=lambda: find_home())
    db_url: str = ""
    artifacts_url: str = ""
    token: str = field(default="", repr=False)  # the key for a modelport server's URLs
    # which project's runs, studies, models, endpoints and jobs this process sees and makes
    project: str = "default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home))
        if not self.db_url:
            object.__setattr__(self, "db_url", f"sqlite:///{self.home / 'modelport.db'}")
        if not self.artifacts_url:
            object.__setattr__(self, "artifacts_url", str(self.home / "artifacts"))

    @property
    def remote(self) -> bool:
        """Whether the metadata lives on a ``modelport server``."""
        return self.db_url.startswith(("http://", "https://"))

    @classmethod
    def from_env(cls, remote: bool = True, **overrides: str | Path | None) -> Settings:
        """The settings of this process. With ``remote`` (all but the server itself), a
        server — ``MODELPORT_URL``, else the ``modelport login`` one unless
        ``MODELPORT_DB_URL`` names a database — holds the metadata and artifacts."""
        env = {
            "home": os.environ.get("MODELPORT_HOME") or find_home(),
            "db_url": os.environ.get("MODELPORT_DB_URL", ""),
            "artifacts_url": os.environ.get("MODELPORT_ARTIFACTS_URL", ""),
            "token": os.environ.get("MODELPORT_TOKEN", ""),
            "project": os.environ.get("MODELPORT_PROJECT", "") or "default",
        }
        if remote:
            _use_server(env)
        env.update({k: str(v) for k, v in overrides.items() if v})
        return cls(home=Path(env["home"]), db_url=str(env["db_url"]),
                   artifacts_url=str(env["artifacts_url"]), token=str(env["token"]),
                   project=str(env["project"]))


def _use_server(env: dict[str, str | Path]) -> None:
    from modelport.login import read_login, server_url

    url = os.environ.get("MODELPORT_URL", "")
    if url:
        url = server_url(url)
    elif not env["db_url"]:
        login = read_login()
        if login is not None:
            url, env["token"] = login.url, env["token"] or login.token
    if url:
        env["db_url"] = env["db_url"] or url
        env["artifacts_url"] = env["artifacts_url"] or url


WORKSPACE_DIR = ".modelport"


def find_home(start: Path | None = None) -> Path:
    """The workspace a command run here uses: the nearest ``.modelport/``.

    Found the way git finds its repository — in ``start`` (the current
    directory) or the closest parent holding one — so a command run from a
    subdirectory sees the same models as one run at the top. With none found,
    it is ``start/.modelport``, created on first use.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_DIR).is_dir():
            return folder / WORKSPACE_DIR
    return here / WORKSPACE_DIR

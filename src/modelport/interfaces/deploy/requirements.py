"""What an image must install to serve some versions, pinned to what was tested here.

``modelport serve`` itself imports only a few of modelport's dependencies (the
store, the CLI, the HTTP server: ``SERVE_BASE``); the heavy ones are per format
or per feature, and a LogisticRegression with its ONNX copy needs none of them —
no scikit-learn, SciPy, pandas or pyarrow (those three are 60 % of what
modelport's dependencies install). So a serving image gets ``SERVE_BASE`` plus
exactly the distributions its versions' runtime imports (the ONNX copy when
``auto`` picks it, the native library otherwise) — never a whole extra (``onnx``
brings the converters, ``stream`` the brokers) — and installs them with
``pip --no-deps``, modelport included: the list is the whole closure, each
distribution pinned to the version installed in this environment, the one the
models were checked with, so an image built next month installs the same bytes'
worth of code. What serving does not import is left out on purpose
(``NOT_SERVED`` says why); a test serves every format with everything else
made unimportable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata

from packaging.requirements import Requirement

from modelport.core.formats.ensemble import EnsembleFormat
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.registry import ModelVersion

DISTRIBUTION = "modelport"
# what ``modelport serve`` imports whatever it serves: arrays, the store and its
# migrations, the CLI, the artifact store, the HTTP/1.1 server
SERVE_BASE = ("numpy", "sqlalchemy", "alembic", "typer", "rich", "fsspec", "orjson",
              "httptools", "uvloop", "packaging")
# modelport's dependencies serving leaves to the formats and features that import them
NOT_SERVED = {
    "pandas": "batch jobs, training and reports read frames; river and forecasters pull it",
    "pyarrow": "prediction logs (--log-sample), batch jobs and Parquet datasets",
    "scikit-learn": "the sklearn format (its native runtime), training and export",
    "skops": "the sklearn format's reader",
}
# the graph is checked with protobuf alone (core/formats/onnx_proto), not ``onnx``
_ONNX = ("onnxruntime", "protobuf")
# what loading each format for serving imports, beyond SERVE_BASE
SERVING_NEEDS: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn", "skops"), "lightgbm": ("lightgbm",), "xgboost": ("xgboost",),
    "onnx": _ONNX, "river": ("river",), "forecast": ("statsforecast",),
    "text": (*_ONNX, "tokenizers"),
}
# the modules behind those: the CLI, the serving host, the SQL store and its SQLite
# dialect, the event loop — and each format's library
SERVE_IMPORTS = ("modelport.interfaces.cli.main", "modelport.interfaces.server",
                 "modelport.runtimes.serving.process", "modelport.core.store.sql.registry",
                 "sqlalchemy.dialects.sqlite", "numpy", "uvloop")
FORMAT_IMPORTS: dict[str, tuple[str, ...]] = {
    "sklearn": ("sklearn.linear_model", "skops.io"), "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost",), "river": ("river",), "forecast": ("statsforecast",),
    "onnx": ("onnxruntime", "modelport.core.formats.onnx_proto"),
    "text": ("onnxruntime", "modelport.core.formats.onnx_proto", "tokenizers"),
}
# what reaching a shared store at start needs, by URL scheme: the metadata store's
# client, or the fsspec implementation of an object store
STORE_NEEDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("psycopg", "psycopg-binary"), "http": ("httpx",), "https": ("httpx",),
    "s3": ("s3fs",), "gs": ("gcsfs",), "gcs": ("gcsfs",), "az": ("adlfs",),
    "abfs": ("adlfs",),
}


def serving_formats(versions: Iterable[ModelVersion], runtime: str = "auto",
                    ws: Workspace | None = None) -> set[str]:
    """The formats serving ``versions`` with ``runtime`` loads (serve's choice: ``auto``
    takes a version's parity-checked ONNX copy when it has one; an ensemble loads its
    members' formats, read from its manifest; a text model is ``text``)."""
    formats: set[str] = set()
    for version in versions:
        if runtime != "native" and version.onnx_ready:
            formats.add("onnx")
        elif version.format == "ensemble":
            data = current(ws).artifacts.get(version.artifact_digest)  # digest-checked
            formats.update(EnsembleFormat().member_formats(data))
        else:
            formats.add(version.format)
        if version.signature.text is not None:
            formats.add("text")
    return formats


def serving_needs(versions: Iterable[ModelVersion], runtime: str = "auto",
                  ws: Workspace | None = None) -> set[str]:
    """The distributions serving ``versions`` with ``runtime`` imports, beyond
    ``SERVE_BASE``."""
    return {name for fmt in serving_formats(versions, runtime, ws=ws)
            for name in SERVING_NEEDS.get(fmt, ())}


def serving_imports(formats: Iterable[str]) -> list[str]:
    """The modules ``modelport serve`` of ``formats`` imports at start: an image compiles
    their bytecode ahead (and only theirs, a third of what compiling everything takes)."""
    return [*SERVE_IMPORTS, *(m for fmt in sorted(formats) for m in FORMAT_IMPORTS.get(fmt, ()))]


def store_needs(url: str) -> set[str]:
    """The client a store URL's scheme needs (``postgresql+psycopg://`` → psycopg,
    ``s3://`` → s3fs)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    return set(STORE_NEEDS.get(scheme, ()))


def dependencies() -> list[str]:
    """modelport's own dependencies (no extra), as its installed metadata lists them."""
    return [r.name for r in map(Requirement, metadata.requires(DISTRIBUTION) or [])
            if _applies(r, set())]


def pinned(names: Iterable[str]) -> list[str]:
    """``name==version`` for ``names``, with everything they require in turn, as
    installed here — the whole closure, for ``pip install --no-deps``; modelport itself
    is left out (the image installs it on its own). A distribution that is not installed
    is refused by name."""
    seen: dict[str, str] = {}
    todo = [Requirement(name) for name in sorted(set(names))]
    while todo:
        req = todo.pop()
        key = _canonical(req.name)
        if key in seen or key == DISTRIBUTION:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise InvalidInputError(
                f"{req.name} is needed in the image (to serve these models or reach their "
                "store) but is not installed here — "
                "install it (the image pins the versions installed here, the ones the "
                "models were checked with), then build again") from None
        seen[key] = f"{dist.metadata['Name']}=={dist.version}"
        todo += [r for r in map(Requirement, dist.requires or [])
                 if _applies(r, set(req.extras))]
    return sorted(seen.values(), key=str.lower)


def _applies(req: Requirement, extras: set[str]) -> bool:
    """Whether ``req`` holds on this interpreter and platform (the image's base is the
    same Python on Linux) with ``extras`` asked of its parent."""
    if req.marker is None:
        return True
    marker = req.marker
    return any(marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

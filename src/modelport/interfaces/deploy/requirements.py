"""What an image must install to serve some versions, pinned to what was tested here.

The heavy libraries are per format, and a LogisticRegression needs none of them:
an image gets modelport's own dependencies plus exactly the distributions its
versions' serving runtime imports (the ONNX copy when ``auto`` picks it, the
native library otherwise) — never a whole extra (``onnx`` brings the converters,
``stream`` the brokers). Every distribution of that closure is pinned to the
version installed in this environment, the one the models were checked with, so
an image built next month installs the same bytes' worth of code.
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
_ONNX = ("onnx", "onnxruntime")  # onnx checks a graph before onnxruntime loads it
# what loading each format for serving imports, beyond modelport's own dependencies
SERVING_NEEDS: dict[str, tuple[str, ...]] = {
    "sklearn": (), "lightgbm": ("lightgbm",), "xgboost": ("xgboost",), "onnx": _ONNX,
    "river": ("river",), "forecast": ("statsforecast",),
}
# what reaching a shared store at start needs, by URL scheme: the metadata store's
# client, or the fsspec implementation of an object store
STORE_NEEDS: dict[str, tuple[str, ...]] = {
    "postgresql": ("psycopg", "psycopg-binary"), "http": ("httpx",), "https": ("httpx",),
    "s3": ("s3fs",), "gs": ("gcsfs",), "gcs": ("gcsfs",), "az": ("adlfs",),
    "abfs": ("adlfs",),
}


def serving_needs(versions: Iterable[ModelVersion], runtime: str = "auto",
                  ws: Workspace | None = None) -> set[str]:
    """The distributions serving ``versions`` with ``runtime`` imports (serve's choice:
    ``auto`` takes a version's parity-checked ONNX copy when it has one; an ensemble
    needs its members' libraries, read from its manifest)."""
    needed: set[str] = set()
    for version in versions:
        if runtime != "native" and version.onnx_ready:
            formats = ["onnx"]
        elif version.format == "ensemble":
            data = current(ws).artifacts.get(version.artifact_digest)  # digest-checked
            formats = EnsembleFormat().member_formats(data)
        else:
            formats = [version.format]
        for name in formats:
            needed.update(SERVING_NEEDS.get(name, ()))
        if version.signature.text is not None:
            needed.update((*_ONNX, "tokenizers"))
    return needed


def store_needs(url: str) -> set[str]:
    """The client a store URL's scheme needs (``postgresql+psycopg://`` → psycopg,
    ``s3://`` → s3fs)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    return set(STORE_NEEDS.get(scheme, ()))


def pinned(extra: Iterable[str]) -> list[str]:
    """``name==version`` for modelport's dependencies and ``extra``, with everything they
    require in turn, as installed here; modelport itself is left out (it is installed
    from its own wheel). A distribution that is not installed is refused by name."""
    seen: dict[str, str] = {}
    todo = [r for r in map(Requirement, metadata.requires(DISTRIBUTION) or [])
            if _applies(r, set())]
    todo += [Requirement(name) for name in sorted(extra)]
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

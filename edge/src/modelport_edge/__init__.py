"""modelport-edge: run signed modelport bundles on devices.

A small distribution of its own (numpy, onnxruntime, cryptography, paho-mqtt)
that never imports ``modelport``: the same code verifies bundles for the
publisher's ``modelport edge verify`` and on a device with nothing else
installed. Heavy modules load on first use, so ``import modelport_edge`` is
cheap.

>>> from modelport_edge import Trust, load                       # doctest: +SKIP
>>> model = load("iris.mpb", Trust.load(["publisher.pub"]))     # doctest: +SKIP
>>> model.predict([[5.1, 3.5, 1.4, 0.2]])["prediction"]          # doctest: +SKIP
array([0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelport_edge.errors import BundleRejected
from modelport_edge.trust import Trust

if TYPE_CHECKING:
    from modelport_edge.bundle import Bundle, read_bundle
    from modelport_edge.runtime import EdgeModel, health_check, load

__all__ = ["Bundle", "BundleRejected", "EdgeModel", "Trust", "health_check", "load",
           "read_bundle"]
__version__ = "0.1.0"

_LAZY = {"Bundle": "bundle", "read_bundle": "bundle", "EdgeModel": "runtime",
         "health_check": "runtime", "load": "runtime"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelport_edge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"modelport_edge.{module}"), name)

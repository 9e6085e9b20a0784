"""River model state as JSON, without pickle.

An online model is a graph of small River objects (pipelines, scalers,
optimizers, running statistics, tree nodes) holding numbers in dicts. This
codec writes that graph as tagged JSON and rebuilds it only from types it
trusts: classes defined in River's own modules, a few containers, and the
handful of River's compiled types listed in ``REBUILT_BY_CONSTRUCTOR``. A
crafted file can therefore set numbers inside River objects, but cannot name
a function or a class from anywhere else — the same rule skops applies to
scikit-learn models. Anything the codec does not know is refused when the
model is *saved*, so whatever was stored loads again.
"""

from __future__ import annotations

import importlib
import math
import random
import types
from collections import Counter, OrderedDict, defaultdict, deque
from typing import Any

import numpy as np

from modelport.errors import UnsafeArtifactError

# compiled River types (no __dict__): rebuilt by calling the class with the
# arguments its __reduce__ reports, which are plain data
REBUILT_BY_CONSTRUCTOR = frozenset({
    "river._river_rust.vectordict.VectorDict",
})
# what a defaultdict may create for a missing key
FACTORIES: dict[str, Any] = {"float": float, "int": int, "list": list, "dict": dict}
_SCALARS = (str, int, bool, type(None))


def encode(obj: Any) -> Any:
    """A JSON-ready tree for ``obj``; raises UnsafeArtifactError naming what it cannot store."""
    return _Encoder().encode(obj)


def decode(tree: Any) -> Any:
    """Rebuild what ``encode`` wrote, trusting only River's classes and plain data."""
    try:
        return _Decoder().decode(tree)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # a tree ``encode`` never wrote: a missing field, a dangling reference
        raise UnsafeArtifactError(f"malformed online-model state: {type(exc).__name__} "
                                  f"{exc}") from None


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class _Encoder:
    def __init__(self) -> None:
        self._seen: dict[int, int] = {}  # id(obj) -> reference number, for shared objects
        self._keep: list[Any] = []  # keeps ids stable while encoding

    def encode(self, obj: Any) -> Any:
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, _SCALARS):
            return obj
        if isinstance(obj, np.generic):
            return self.encode(obj.item())
        if isinstance(obj, list):
            return {"list": [self.encode(v) for v in obj]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v) for v in obj]}
        if isinstance(obj, set | frozenset):
            return {type(obj).__name__: [self.encode(v) for v in obj]}
        if isinstance(obj, deque):
            return {"deque": [self.encode(v) for v in obj], "maxlen": obj.maxlen}
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind not in "biuf":
                raise UnsafeArtifactError(f"cannot store an array of dtype {obj.dtype}")
            return {"ndarray": obj.tolist(), "dtype": obj.dtype.str}
        if isinstance(obj, dict):
            return self._mapping(obj)
        return self._object(obj)

    def _mapping(self, obj: dict[Any, Any]) -> Any:
        items = [[self.encode(k), self.encode(v)] for k, v in obj.items()]
        if isinstance(obj, defaultdict):
            factory = getattr(obj.default_factory, "__name__", None)
            known = FACTORIES.get(str(factory))
            if obj.default_factory is not None and known is not obj.default_factory:
                raise UnsafeArtifactError(
                    f"cannot store a defaultdict creating {obj.default_factory!r}")
            return {"defaultdict": items, "factory": factory}
        kind = {Counter: "counter", OrderedDict: "ordered"}.get(type(obj), "dict")
        if kind == "dict" and type(obj) is not dict:
            raise UnsafeArtifactError(f"cannot store a {_qualname(type(obj))}")
        return {kind: items}

    def _object(self, obj: Any) -> Any:
        if type(obj) is random.Random:  # River models seed their own generators
            version, state, gauss = obj.getstate()
            return {"random": [version, list(state), gauss]}
        if isinstance(obj, types.MethodType):  # e.g. a strategy picked in __init__
            return {"method": obj.__func__.__name__, "of": self.encode(obj.__self__)}
        cls = type(obj)
        name = _qualname(cls)
        if not name.startswith("river."):
            raise UnsafeArtifactError(
                f"cannot store a {name} inside an online model — only River's own types "
                "and plain data are stored")
        if id(obj) in self._seen:
            return {"ref": self._seen[id(obj)]}
        self._seen[id(obj)] = ref = len(self._seen)
        self._keep.append(obj)
        if name in REBUILT_BY_CONSTRUCTOR:
            _, args = obj.__reduce__()[:2]
            return {"new": name, "id": ref, "args": [self.encode(a) for a in args]}
        if not hasattr(obj, "__dict__"):
            raise UnsafeArtifactError(f"cannot store a {name}: it keeps its state out of reach")
        return {"object": name, "id": ref,
                "state": [[k, self.encode(v)] for k, v in vars(obj).items()]}


class _Decoder:
    def __init__(self) -> None:
        self._refs: dict[int, Any] = {}

    def decode(self, tree: Any) -> Any:
        if not isinstance(tree, dict):
            if isinstance(tree, list):
                raise UnsafeArtifactError("malformed online-model state: a bare list")
            return tree
        if len(tree) == 1 or "factory" in tree or "maxlen" in tree or "dtype" in tree:
            return self._data(tree)  # plain data, and {"ref": n}
        if "method" in tree:
            owner = self.decode(tree["of"])
            if not _qualname(type(owner)).startswith("river."):
                raise UnsafeArtifactError("refusing a method of a non-River object")
            return getattr(owner, tree["method"])
        if "object" in tree:
            cls: Any = _river_class(tree["object"])
            obj = cls.__new__(cls)
            self._refs[tree["id"]] = obj
            obj.__dict__.update({k: self.decode(v) for k, v in tree["state"]})
            return obj
        if "new" in tree:
            if tree["new"] not in REBUILT_BY_CONSTRUCTOR:
                raise UnsafeArtifactError(f"refusing to build {tree['new']!r}: not trusted")
            obj = _river_class(tree["new"])(*[self.decode(a) for a in tree["args"]])
            self._refs[tree["id"]] = obj
            return obj
        raise UnsafeArtifactError(f"malformed online-model state: keys {sorted(tree)}")

    def _data(self, tree: dict[str, Any]) -> Any:
        if "ref" in tree:
            return self._refs[tree["ref"]]
        kind = next(k for k in tree if k not in ("factory", "maxlen", "dtype"))
        value = tree[kind]
        if kind == "float":
            return float(value)
        if kind == "random":
            rng = random.Random()
            rng.setstate((value[0], tuple(value[1]), value[2]))
            return rng
        if kind in ("list", "tuple", "set", "frozenset", "deque"):
            items = [self.decode(v) for v in value]
            if kind == "deque":
                return deque(items, maxlen=tree.get("maxlen"))
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "ndarray":
            return np.asarray(value, dtype=np.dtype(tree["dtype"]))
        pairs = [(_hashable(self.decode(k)), self.decode(v)) for k, v in value]
        if kind == "defaultdict":
            factory = tree.get("factory")
            if factory is not None and factory not in FACTORIES:
                raise UnsafeArtifactError(f"refusing a defaultdict factory {factory!r}")
            return defaultdict(FACTORIES[factory] if factory else None, pairs)
        if kind in ("dict", "counter", "ordered"):
            return {"dict": dict, "counter": Counter, "ordered": OrderedDict}[kind](dict(pairs))
        raise UnsafeArtifactError(f"malformed online-model state: unknown tag {kind!r}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _river_class(name: str) -> type:
    module, _, qual = name.rpartition(".")
    if not (module == "river" or module.startswith("river.")) or "<" in qual:
        raise UnsafeArtifactError(f"refusing to build {name!r}: only River's own types load")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        # qualnames with dots are nested classes: the module part may be too long
        head, _, cls = module.rpartition(".")
        try:
            obj = getattr(getattr(importlib.import_module(head), cls), qual)
        except (ImportError, AttributeError):
            raise UnsafeArtifactError(
                f"this online model needs {name}, which the installed River lacks") from None
    if not isinstance(obj, type):
        raise UnsafeArtifactError(f"refusing to build {name!r}: not a class")
    return obj

"""River model state as JSON, without pickle.

An online model is a graph of small River objects (pipelines, scalers,
optimizers, running statistics, tree nodes) holding numbers in dicts. This
codec writes that graph as tagged JSON and rebuilds it only from types it
trusts: the reviewed River classes in ``river_trusted.CLASSES`` (checked on
the class found, at the module that defines it), a few containers, and
River's ``VectorDict`` built from checked plain arguments. A crafted file can
therefore set numbers inside those objects, but cannot name a function, a
class from anywhere else or a method off the short ``river_trusted.METHODS``
list, nor shadow a method with state — the same rule skops applies to
scikit-learn models. Anything the codec does not know is refused when the
model is *saved*, so whatever was stored loads again.
"""

from __future__ import annotations

import math
import random
import types
from collections import Counter, OrderedDict, defaultdict, deque
from typing import Any

import numpy as np

from modelport.core.formats import river_trusted
from modelport.core.formats.river_trusted import VECTOR_DICT, qualname
from modelport.errors import UnsafeArtifactError

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
    except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        # a tree ``encode`` never wrote: a missing field, a dangling reference
        raise UnsafeArtifactError(f"malformed online-model state: {type(exc).__name__} "
                                  f"{exc}") from None
    except RecursionError:
        raise UnsafeArtifactError("malformed online-model state: nested too deeply") from None


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
            raise UnsafeArtifactError(f"cannot store a {qualname(type(obj))}")
        return {kind: items}

    def _object(self, obj: Any) -> Any:
        if type(obj) is random.Random:  # River models seed their own generators
            version, state, gauss = obj.getstate()
            return {"random": [version, list(state), gauss]}
        if isinstance(obj, types.MethodType):  # e.g. a strategy picked in __init__
            name = obj.__func__.__name__
            if name not in river_trusted.METHODS:
                raise UnsafeArtifactError(f"cannot store method {name} inside an online model")
            return {"method": name, "of": self.encode(obj.__self__)}
        cls = type(obj)
        name = qualname(cls)
        if name not in river_trusted.CLASSES and name != VECTOR_DICT:
            raise UnsafeArtifactError(
                f"cannot store a {name} inside an online model — only the River classes "
                "modelport has reviewed (river_trusted.CLASSES) and plain data are stored")
        if id(obj) in self._seen:
            return {"ref": self._seen[id(obj)]}
        self._seen[id(obj)] = ref = len(self._seen)
        self._keep.append(obj)
        if name == VECTOR_DICT:
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
            return river_trusted.method(self.decode(tree["of"]), tree["method"])
        if "object" in tree:
            cls: Any = river_trusted.resolve(tree["object"])
            obj = cls.__new__(cls)
            self._refs[_id(tree)] = obj
            obj.__dict__.update(self._state(cls, tree["state"]))
            return obj
        if "new" in tree:
            if tree["new"] != VECTOR_DICT:
                raise UnsafeArtifactError(
                    f"refusing to build {tree['new']!r}: it is not on modelport's list")
            cls = river_trusted.resolve(VECTOR_DICT, frozenset({VECTOR_DICT}))
            obj = cls(*self._vector_dict_args(tree["args"]))
            self._refs[_id(tree)] = obj
            return obj
        raise UnsafeArtifactError(f"malformed online-model state: keys {sorted(tree)}")

    def _state(self, cls: type, pairs: Any) -> dict[str, Any]:
        """Instance attributes: plain names only, none hiding something the class defines
        as code (so state cannot replace ``predict_one`` with an object of its choice)."""
        if not isinstance(pairs, list):
            raise UnsafeArtifactError("malformed online-model state: state is not a list")
        state = {}
        for key, value in pairs:
            if (not isinstance(key, str) or not key.isidentifier() or key.startswith("__")
                    or callable(getattr(cls, key, None))):
                raise UnsafeArtifactError(
                    f"refusing attribute {key!r} of a {qualname(cls)} in online-model state")
            state[key] = self.decode(value)
        return state

    def _vector_dict_args(self, raw: Any) -> list[Any]:
        """``VectorDict(data, default_factory, mask, copy)``: the factory is called for
        a missing key, so it may only be one of River's listed initializers."""
        if not isinstance(raw, list) or len(raw) != 4:
            raise UnsafeArtifactError("refusing VectorDict state: expected 4 arguments")
        data, factory, mask, copy = (self.decode(a) for a in raw)
        vector = river_trusted.resolve(VECTOR_DICT, frozenset({VECTOR_DICT}))
        if not (data is None or isinstance(data, dict | vector)) \
                or not (mask is None or isinstance(mask, dict | vector)) \
                or not isinstance(copy, bool) or not (
                    factory is None
                    or qualname(type(factory)) in river_trusted.VECTOR_DICT_FACTORIES):
            raise UnsafeArtifactError("refusing VectorDict state: unexpected argument types")
        return [data, factory, mask, copy]

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
            dtype = np.dtype(tree["dtype"])
            if dtype.kind not in "biuf":
                raise UnsafeArtifactError(f"refusing an array of dtype {dtype}")
            return np.asarray(value, dtype=dtype)
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


def _id(tree: dict[str, Any]) -> int:
    ref = tree["id"]
    if type(ref) is not int:
        raise UnsafeArtifactError(f"malformed online-model state: reference id {ref!r}")
    return ref

"""``/api/v1/models``: one route per method of ``RegistryRepository``.

Model names, aliases and tag keys travel in the path; the store checks that
they exist and answers 404 naming what is missing. Version records are the
store's own ``VersionRecord``: the wire type is the stored type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Router, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from modelport.core.store.registry import Model, NewVersion, VersionRecord, missing_model
from modelport.interfaces.team.access import needs


@dataclass
class Register:
    version: NewVersion
    now: float
    tags: dict[str, str] = field(default_factory=dict)
    number: int | None = None  # a copied version keeps its number


@dataclass
class Pick:
    aliases: list[str] = field(default_factory=list)
    latest: bool = True


@dataclass
class Number:
    version: int | None


@dataclass
class Target:
    version: int


@dataclass
class Value:
    value: str


@dataclass
class Description:
    description: str
    version: int | None = None


@dataclass
class Digests:
    digests: list[str]


@dataclass
class Tagged:
    name: str
    version: int
    value: str


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_models(state: State) -> list[Model]:
    return state.store.registry.list_models()  # type: ignore[no-any-return]


@get("/{name:str}", guards=[needs("read")], sync_to_thread=True)
def get_model(state: State, name: FromPath[str]) -> Model:
    for model in state.store.registry.list_models():
        if model.name == name:
            return model  # type: ignore[no-any-return]
    raise missing_model(name)


@get("/{name:str}/exists", guards=[needs("read")], sync_to_thread=True)
def has_model(state: State, name: FromPath[str]) -> bool:
    return state.store.registry.has_model(name)  # type: ignore[no-any-return]


@post("/{name:str}/versions", guards=[needs("write")], status_code=201, sync_to_thread=True)
def create_version(state: State, name: FromPath[str], data: JSONBody[Register]) -> Number:
    return Number(state.store.registry.create_version(name, data.version, data.tags, data.now,
                                                             data.number))


@get("/{name:str}/versions", guards=[needs("read")], sync_to_thread=True)
def list_versions(state: State, name: FromPath[str]) -> list[VersionRecord]:
    return state.store.registry.list_versions(name)  # type: ignore[no-any-return]


@get("/{name:str}/versions/{version:int}", guards=[needs("read")], sync_to_thread=True)
def get_version(state: State, name: FromPath[str], version: FromPath[int]) -> VersionRecord:
    return state.store.registry.get_version(name, version)  # type: ignore[no-any-return]


@post("/{name:str}/pick", guards=[needs("read")], status_code=200, sync_to_thread=True)
def pick_version(state: State, name: FromPath[str], data: JSONBody[Pick]) -> Number:
    return Number(state.store.registry.pick_version(name, data.aliases, data.latest))


@put("/{name:str}/aliases/{alias:str}", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def set_alias(state: State, name: FromPath[str], alias: FromPath[str],
              data: JSONBody[Target]) -> None:
    state.store.registry.set_alias(name, alias, data.version)


@delete("/{name:str}/aliases/{alias:str}", guards=[needs("write")], status_code=204,
        sync_to_thread=True)
def delete_alias(state: State, name: FromPath[str], alias: FromPath[str]) -> None:
    state.store.registry.delete_alias(name, alias)


@put("/{name:str}/versions/{version:int}/tags/{key:str}", guards=[needs("write")],
     status_code=204, sync_to_thread=True)
def set_tag(state: State, name: FromPath[str], version: FromPath[int], key: FromPath[str],
            data: JSONBody[Value]) -> None:
    state.store.registry.set_tag(name, version, key, data.value)


@put("/{name:str}/description", guards=[needs("write")], status_code=204, sync_to_thread=True)
def set_description(state: State, name: FromPath[str], data: JSONBody[Description]) -> None:
    state.store.registry.set_description(name, data.version, data.description)


@put("/{name:str}/versions/{version:int}/onnx", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def set_onnx(state: State, name: FromPath[str], version: FromPath[int], data: JSONBody[dict[str,
             Any]]) -> None:
    state.store.registry.set_onnx(name, version, data)


@put("/{name:str}/versions/{version:int}/profile", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def set_profile(state: State, name: FromPath[str], version: FromPath[int],
                data: JSONBody[Value]) -> None:
    state.store.registry.set_profile(name, version, data.value)


@delete("/{name:str}", guards=[needs("write")], status_code=204, sync_to_thread=True)
def delete_model(state: State, name: FromPath[str]) -> None:
    state.store.registry.delete_model(name)


@delete("/{name:str}/versions/{version:int}", guards=[needs("write")], status_code=204,
        sync_to_thread=True)
def delete_version(state: State, name: FromPath[str], version: FromPath[int]) -> None:
    state.store.registry.delete_version(name, version)


@get("/tags/{key:str}", guards=[needs("read")], sync_to_thread=True)
def find_tag(state: State, key: FromPath[str]) -> Tagged | None:
    found = state.store.registry.find_tag(key)
    return Tagged(*found) if found else None


@post("/digests/referenced", guards=[needs("read")], status_code=200, sync_to_thread=True)
def referenced_digests(state: State, data: JSONBody[Digests]) -> list[str]:
    return sorted(state.store.registry.referenced_digests(data.digests))


models = Router("/api/v1/models", route_handlers=[
    list_models, get_model, has_model, create_version, list_versions, get_version, pick_version,
    set_alias, delete_alias, set_tag, set_description, set_onnx, set_profile, delete_model,
    delete_version],
    tags=["models"])
lookups = Router("/api/v1/registry", route_handlers=[find_tag, referenced_digests],
                 tags=["models"])

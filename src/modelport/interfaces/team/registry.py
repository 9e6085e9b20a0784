"""``/api/v1/models``: one route per method of ``RegistryRepository``.

Model names, aliases and tag keys travel in the path; the store checks that
they exist and answers 404 naming what is missing. Version records are the
store's own ``VersionRecord``: the wire type is the stored type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from litestar import Request, Router, delete, get, post, put
from litestar.params import FromPath, JSONBody

from modelport.core.store.registry import (
    MODEL_NAME,
    Model,
    NewVersion,
    Registration,
    VersionRecord,
    check_batch,
    missing_model,
)
from modelport.interfaces.team.access import PresentedKey, ProjectStore, needs
from modelport.interfaces.team.inputs import invalid, storable
from modelport.runtimes.serving.auth import ForbiddenError


@dataclass
class Register:
    version: NewVersion
    now: float
    tags: dict[str, str] = field(default_factory=dict)
    number: int | None = None  # a copied version keeps its number


@dataclass
class BatchItem:
    """One version of a batch: the model it is a version of, the version, its tags."""

    name: str
    version: NewVersion
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class VersionBatch:
    versions: list[BatchItem]
    now: float


@dataclass
class Numbers:
    versions: list[int]


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


def check_model_name(name: str, field: str, source: str = "body") -> None:
    """The store keeps what it is given: a client that skips the CLI's check must still not
    create a model no reference could name."""
    if not MODEL_NAME.fullmatch(name):
        raise invalid(field, "not a model name (a letter or digit, then letters, digits, "
                             "'_', '.', '-'; 200 at most)", source)


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_models(store: ProjectStore) -> list[Model]:
    return store.registry.list_models()  # type: ignore[no-any-return]


@get("/{name:str}", guards=[needs("read")], sync_to_thread=True)
def get_model(store: ProjectStore, name: FromPath[str]) -> Model:
    for model in store.registry.list_models():
        if model.name == name:
            return model  # type: ignore[no-any-return]
    raise missing_model(name)


@get("/{name:str}/exists", guards=[needs("read")], sync_to_thread=True)
def has_model(store: ProjectStore, name: FromPath[str]) -> bool:
    return store.registry.has_model(name)  # type: ignore[no-any-return]


@post("/{name:str}/versions", guards=[needs("write")], status_code=201, sync_to_thread=True)
def create_version(store: ProjectStore, api_key: PresentedKey, name: FromPath[str],
                   data: JSONBody[Register]) -> Number:
    check_model_name(name, "name", "path")
    if not api_key.sees(name):  # the same answer whether ``name`` exists or not
        raise ForbiddenError(f"key {api_key.id} ({api_key.name}) may not register model "
                             f"{name!r}")
    return Number(store.registry.create_version(name, data.version, data.tags, data.now,
                                                data.number))


@post("/versions:batch", guards=[needs("write")], status_code=201, sync_to_thread=True)
def create_versions(store: ProjectStore, api_key: PresentedKey,
                    data: JSONBody[VersionBatch]) -> Numbers:
    """Register many versions (a training job's many models) in one transaction: all or
    none, numbered in the body's order. A bad item is refused (422 naming its index and
    field) before anything is written; past ``MAX_BATCH`` versions, 413."""
    batch = [Registration(e.name, e.version, e.tags) for e in data.versions]
    check_batch(batch)
    for i, entry in enumerate(data.versions):
        check_model_name(entry.name, f"versions[{i}].name")
        if not api_key.sees(entry.name):  # the same answer whether it exists or not
            raise ForbiddenError(f"key {api_key.id} ({api_key.name}) may not register model "
                                 f"{entry.name!r} (versions[{i}])")
    storable(asdict(data)["versions"], "versions")
    return Numbers(store.registry.create_versions(batch, data.now))


@get("/{name:str}/versions", guards=[needs("read")], sync_to_thread=True)
def list_versions(store: ProjectStore, name: FromPath[str]) -> list[VersionRecord]:
    return store.registry.list_versions(name)  # type: ignore[no-any-return]


@get("/{name:str}/versions/{version:int}", guards=[needs("read")], sync_to_thread=True)
def get_version(store: ProjectStore, name: FromPath[str], version: FromPath[int]) -> VersionRecord:
    return store.registry.get_version(name, version)  # type: ignore[no-any-return]


@post("/{name:str}/pick", guards=[needs("read")], status_code=200, sync_to_thread=True)
def pick_version(store: ProjectStore, name: FromPath[str], data: JSONBody[Pick]) -> Number:
    return Number(store.registry.pick_version(name, data.aliases, data.latest))


@put("/{name:str}/aliases/{alias:str}", guards=[needs("deploy")], status_code=204,
     sync_to_thread=True)
def set_alias(store: ProjectStore, name: FromPath[str], alias: FromPath[str],
              data: JSONBody[Target]) -> None:
    store.registry.set_alias(name, alias, data.version)


@delete("/{name:str}/aliases/{alias:str}", guards=[needs("deploy")], status_code=204,
        sync_to_thread=True)
def delete_alias(store: ProjectStore, name: FromPath[str], alias: FromPath[str]) -> None:
    store.registry.delete_alias(name, alias)


@put("/{name:str}/versions/{version:int}/tags/{key:str}", guards=[needs("write")],
     status_code=204, sync_to_thread=True)
def set_tag(store: ProjectStore, name: FromPath[str], version: FromPath[int], key: FromPath[str],
            data: JSONBody[Value]) -> None:
    store.registry.set_tag(name, version, key, data.value)


@put("/{name:str}/description", guards=[needs("write")], status_code=204, sync_to_thread=True)
def set_description(store: ProjectStore, name: FromPath[str], data: JSONBody[Description]) -> None:
    store.registry.set_description(name, data.version, data.description)


@put("/{name:str}/versions/{version:int}/onnx", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def set_onnx(store: ProjectStore, name: FromPath[str], version: FromPath[int],
             data: JSONBody[dict[str, Any]]) -> None:
    store.registry.set_onnx(name, version, data)


@put("/{name:str}/versions/{version:int}/profile", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def set_profile(store: ProjectStore, name: FromPath[str], version: FromPath[int],
                data: JSONBody[Value]) -> None:
    store.registry.set_profile(name, version, data.value)


class LogsKeptError(ForbiddenError):
    """A whole model's delete would erase its prediction logs: an admin's to do."""

    code = "model_logs_kept"


@delete("/{name:str}", guards=[needs("write")], status_code=204, sync_to_thread=True)
def delete_model(request: Request, api_key: PresentedKey, name: FromPath[str]) -> None:
    """Delete a model and erase its prediction logs and labels (``lifecycle.registry.
    delete_model`` says why and in which order). Erasing them is an admin's (they are the
    record of what the model answered): a model that has any needs an ``admin`` key —
    asked only once the model is known to be the caller's, so another project's key
    learns nothing of its files."""
    from modelport.core.log_stores import kept_here
    from modelport.core.logfiles import holds
    from modelport.interfaces.team.access import request_workspace
    from modelport.lifecycle import registry

    ws = request_workspace(request)
    if not ws.store.registry.has_model(name):
        raise missing_model(name)
    if not api_key.allows("admin") and any(holds(files, name) for files in
                                           kept_here(ws.settings.artifacts_url)):
        raise LogsKeptError(f"model {name!r} has prediction logs or labels on this server "
                            "and deleting it would erase its prediction logs, which only an "
                            "admin key may do — delete its versions one by one "
                            f"(modelport models delete {name}:VERSION) to keep them")
    registry.delete_model(name, ws=ws)


@delete("/{name:str}/versions/{version:int}", guards=[needs("write")], status_code=204,
        sync_to_thread=True)
def delete_version(store: ProjectStore, name: FromPath[str], version: FromPath[int]) -> None:
    store.registry.delete_version(name, version)


@get("/tags/{key:str}", guards=[needs("read")], sync_to_thread=True)
def find_tag(store: ProjectStore, key: FromPath[str]) -> Tagged | None:
    found = store.registry.find_tag(key)
    return Tagged(*found) if found else None


@post("/digests/referenced", guards=[needs("read")], status_code=200, sync_to_thread=True)
def referenced_digests(store: ProjectStore, data: JSONBody[Digests]) -> list[str]:
    return sorted(store.registry.referenced_digests(data.digests))


models = Router("/api/v1/models", route_handlers=[
    list_models, get_model, has_model, create_version, create_versions, list_versions,
    get_version, pick_version, set_alias, delete_alias, set_tag, set_description, set_onnx,
    set_profile, delete_model, delete_version],
    tags=["models"])
lookups = Router("/api/v1/registry", route_handlers=[find_tag, referenced_digests],
                 tags=["models"])

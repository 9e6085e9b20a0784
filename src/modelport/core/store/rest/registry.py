"""The registry over REST: ``RegistryRepository`` as calls to ``/api/v1/models``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from modelport.core.store.registry import (
    Model,
    NewVersion,
    Registration,
    VersionRecord,
    check_batch,
)
from modelport.core.store.rest.api import Api, segment
from modelport.errors import TooLargeError


class RestRegistry:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _model(self, name: str) -> str:
        return f"/models/{segment(name)}"

    def create_version(self, name: str, version: NewVersion, tags: Mapping[str, str],
                       now: float, number: int | None = None) -> int:
        body = {"version": version, "tags": dict(tags), "now": now, "number": number}
        return int(self.api.call("POST", f"{self._model(name)}/versions", body)["version"])

    def create_versions(self, batch: Sequence[Registration], now: float) -> list[int]:
        check_batch(batch)  # before sending a body the server would refuse
        body = {"now": now, "versions": [
            {"name": name, "version": version, "tags": dict(tags)}
            for name, version, tags in batch]}
        try:
            numbers = self.api.call("POST", "/models/versions:batch", body)["versions"]
        except TooLargeError as exc:  # the count was checked: the body is past the server's
            raise TooLargeError(f"the server refused a batch of {len(batch)} versions as too "
                                "large a request — register them in smaller batches") from exc
        return [int(n) for n in numbers]

    def referenced_digests(self, digests: Collection[str]) -> set[str]:
        return set(self.api.call("POST", "/registry/digests/referenced",
                                 {"digests": list(digests)}))

    def has_model(self, name: str) -> bool:
        return bool(self.api.call("GET", f"{self._model(name)}/exists"))

    def pick_version(self, name: str, aliases: Sequence[str], latest: bool) -> int | None:
        picked = self.api.call("POST", f"{self._model(name)}/pick",
                               {"aliases": list(aliases), "latest": latest})["version"]
        return None if picked is None else int(picked)

    def get_version(self, name: str, version: int) -> VersionRecord:
        path = f"{self._model(name)}/versions/{int(version)}"
        return self.api.call("GET", path)  # type: ignore[no-any-return]

    def list_versions(self, name: str) -> list[VersionRecord]:
        return list(self.api.call("GET", f"{self._model(name)}/versions"))

    def list_models(self) -> list[Model]:
        return [Model(**m) for m in self.api.call("GET", "/models")]

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.api.call("PUT", f"{self._model(name)}/aliases/{segment(alias)}",
                      {"version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        self.api.call("DELETE", f"{self._model(name)}/aliases/{segment(alias)}")

    def set_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/tags/{segment(key)}",
                      {"value": value})

    def find_tag(self, key: str) -> tuple[str, int, str] | None:
        found = self.api.call("GET", f"/registry/tags/{segment(key)}")
        return None if found is None else (found["name"], int(found["version"]), found["value"])

    def set_description(self, name: str, version: int | None, description: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/description",
                      {"version": version, "description": description})

    def set_onnx(self, name: str, version: int, onnx: dict[str, Any]) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/onnx", onnx)

    def set_profile(self, name: str, version: int, digest: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/profile",
                      {"value": digest})

    def delete_model(self, name: str) -> None:
        self.api.call("DELETE", self._model(name))

    def delete_version(self, name: str, version: int) -> None:
        self.api.call("DELETE", f"{self._model(name)}/versions/{int(version)}")

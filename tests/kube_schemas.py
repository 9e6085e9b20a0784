"""Validating manifests against real schemas: Kubernetes' own OpenAPI schemas (from the
``kubernetes-validate`` package) for built-in kinds, and KServe's field lists
(``data/kserve/``) joined to those for KServe's kinds. Strict: an unknown field fails."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests promise to run on
K8S_DEFS = "https://kubernetes.io/api/_definitions.json"
META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
KSERVE = Path(__file__).parent / "data" / "kserve" / "serving.kserve.io.json"


def validate(obj: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``obj`` is a valid object of its kind."""
    key = f"{obj.get('apiVersion')}/{obj.get('kind')}"
    if key.startswith("serving.kserve.io/"):
        _kserve_validator(key).validate(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@functools.cache
def _k8s_definitions() -> dict[str, Any]:
    version = [v for v in kubernetes_validate.utils.all_versions()
               if kubernetes_validate.utils.major_minor(v) <= K8S_VERSION][-1]
    path = files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json")
    return dict(json.loads(path.read_text()))


@functools.cache
def _kserve_validator(key: str) -> jsonschema.Draft202012Validator:
    data = json.loads(KSERVE.read_text())
    if key not in data["kinds"]:
        raise KeyError(f"no KServe schema for {key}")
    kind = data["kinds"][key]
    defs = _k8s_definitions()
    types = {name: _object(t, defs, data["types"]) for name, t in data["types"].items()}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "required": ["apiVersion", "kind", "metadata", *kind["required"]],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": key.rsplit("/", 1)[0]},
            "kind": {"const": key.rsplit("/", 1)[1]},
            "metadata": {"$ref": f"{K8S_DEFS}#/$defs/{META}"},
            "spec": {"$ref": f"#/$defs/{kind['spec']}"},
            "status": {"type": "object"},
        },
        "$defs": types,
    }
    registry: Registry = Resource.from_contents(defs) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _object(spec: dict[str, Any], defs: dict[str, Any], kserve: dict[str, Any]
            ) -> dict[str, Any]:
    """A KServe type as a closed JSON Schema object: its own fields, plus every field of
    the types it inlines (Kubernetes ones by reference to Kubernetes' schema; their
    ``required`` does not carry over — KServe makes a PodSpec's containers and a
    Container's name optional — while a KServe type's does)."""
    properties: dict[str, Any] = {}
    required = list(spec.get("required", []))
    for inlined in spec.get("inline", []):
        if inlined.startswith("io.k8s."):
            for field in defs["$defs"][inlined]["properties"]:
                properties[field] = {"$ref": f"{K8S_DEFS}#/$defs/{inlined}/properties/{field}"}
        else:
            properties.update({f: {"$ref": f"#/$defs/{inlined}/properties/{f}"}
                               for f in kserve[inlined]["properties"]})
            required += kserve[inlined].get("required", [])
    properties.update({name: _field(f) for name, f in spec["properties"].items()})
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": required}


def _field(field: Any) -> Any:
    """``$k8s`` and ``$type`` shorthands as references, everywhere in a field's schema."""
    if isinstance(field, dict):
        if "$k8s" in field:
            return {"$ref": f"{K8S_DEFS}#/$defs/{field['$k8s']}"}
        if "$type" in field:
            return {"$ref": f"#/$defs/{field['$type']}"}
        return {k: _field(v) for k, v in field.items()}
    if isinstance(field, list):
        return [_field(v) for v in field]
    return field

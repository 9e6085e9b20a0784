"""One error hierarchy for the library, the CLI and the HTTP layer.

Every error carries a stable ``code`` and the HTTP ``status`` it maps to, so a
server renders it as ``{"error": ...}`` without a lookup table and a client can
re-raise the same class from the code. Messages say what to do next.
"""

from __future__ import annotations


class ModelportError(Exception):
    """Root of every error modelport raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class InvalidInputError(ModelportError):
    """The caller sent something malformed: a bad reference, a bad value, a bad file."""

    code = "invalid_input"
    status = 400


class SchemaError(ModelportError):
    """Well-formed input that does not fit a model's signature."""

    code = "schema_mismatch"
    status = 422


class NotFoundError(ModelportError):
    code = "not_found"
    status = 404


class ConflictError(ModelportError):
    code = "conflict"
    status = 409


class ArtifactIntegrityError(ModelportError):
    """A stored artifact no longer matches the digest the registry recorded."""

    code = "artifact_integrity"
    status = 503


class UnsafeArtifactError(ModelportError):
    """An artifact asks to load types outside modelport's reviewed allow-list."""

    code = "unsafe_artifact"
    status = 422


class ExportError(ModelportError):
    """A model could not be converted to another format (e.g. ONNX) faithfully."""

    code = "export_failed"
    status = 422


class DigestMismatchError(ModelportError):
    """Bytes that arrived do not hash to the digest they were sent under: nothing is kept."""

    code = "digest_mismatch"
    status = 422


class TooLargeError(ModelportError):
    """A body past its limit, refused as its bytes arrive."""

    code = "too_large"
    status = 413


class StoreUnavailableError(ModelportError):
    code = "store_unavailable"
    status = 503


class BrokerError(ModelportError):
    """A message broker refused, timed out or could not be reached."""

    code = "broker_unavailable"
    status = 503


class BundleRejectedError(ModelportError):
    """An edge bundle was refused: bad signature, unknown key, altered, truncated…

    The edge runtime (``modelport_edge``, which never imports modelport) raises
    its own ``BundleRejected``; the CLI re-raises it as this, keeping its reason.
    """

    code = "bundle_rejected"
    status = 422

    def __init__(self, message: str, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason


class MissingDependencyError(ModelportError):
    """An optional dependency is not installed; the message names the extra."""

    code = "missing_dependency"
    status = 503

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the '{package}' package — install it with: "
            f"pip install 'modelport[{extra}]'"
        )


def from_code(code: str, message: str, status: int) -> ModelportError:
    """The error a server rendered as ``{"error": message, "code": code}``, raised again
    on the client as its own class; a code this side does not know keeps its status."""
    pending: list[type[ModelportError]] = [ModelportError]
    while pending:
        cls = pending.pop()
        if cls.code == code and cls.__init__ is ModelportError.__init__:
            return cls(message)
        pending += cls.__subclasses__()
    error = ModelportError(message)
    error.code, error.status = code, status
    return error


def first_line(exc: BaseException) -> str:
    """One line from an error: libraries wrap context over many lines (or say nothing),
    and every message modelport shows must be a single clear line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require(module: str, extra: str):  # type: ignore[no-untyped-def]
    """Import an optional dependency or explain which extra brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra) from exc

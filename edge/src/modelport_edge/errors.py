"""The one error the edge runtime raises on purpose.

``modelport_edge`` never imports ``modelport`` (a device has neither its
dependencies nor its database), so it carries its own small exception; the
main ``modelport`` CLI renders it as one line like any ``ModelportError``.
"""

from __future__ import annotations


class BundleRejected(Exception):
    """A bundle was refused: bad signature, unknown key, wrong digest, truncated,
    unsafe archive, incompatible signature or a failed health check.

    ``reason`` is a stable word for machines (status reports, tests);
    ``message`` is one line for people.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

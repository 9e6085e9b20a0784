"""What every write route checks before the store sees a body: that the store can keep it.

The lifecycle checks what it writes; a REST client reaches the repositories
directly, so the server holds a body to the same floor — no NUL, no lone
surrogate, no integer past 64 bits — and answers 422 naming the field instead
of a database error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

from modelport.core.store.text import unstorable


def storable(value: Any, where: str = "body") -> None:
    """Raise a 422 naming the first part of ``value`` no store could keep."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    found = unstorable(value, where)
    if found:
        raise invalid(found, "no store can keep this value (NUL, lone surrogate or an "
                             "integer past 64 bits)")


def invalid(field: str, message: str, source: str = "body") -> ValidationException:
    """The 422 naming the ``field`` (``versions[3].name``) and what is wrong."""
    return ValidationException(f"invalid field {field}", extra=[{
        "source": source, "key": field, "message": message}])


def storable_request(request: Request) -> None:  # type: ignore[type-arg]
    """A router's ``before_request``: the path and query parameters, which the store
    matches against, held to the same floor as a body."""
    storable(dict(request.path_params), "path")
    storable(dict(request.query_params), "query")

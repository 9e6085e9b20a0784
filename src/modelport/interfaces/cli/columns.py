"""``--drop`` and ``--features``: choosing the columns ``train``, ``tune``, ``automl``
and ``retrain`` learn from (an id column such as ``customer_id`` is the usual one)."""

from __future__ import annotations

from typing import Annotated, TypedDict

import typer

from modelport.errors import InvalidInputError

DropOpt = Annotated[str | None, typer.Option(
    "--drop", help="Columns to leave out, comma-separated, e.g. customer_id,signup_date.")]
FeaturesOpt = Annotated[str | None, typer.Option(
    "--features", help="The only columns to learn from, comma-separated (not with --drop).")]


class Columns(TypedDict):
    drop: list[str] | None
    features: list[str] | None


def chosen(drop: str | None, features: str | None) -> Columns:
    """The keyword arguments of the library call: ``drop=[...]`` or ``features=[...]``."""
    if drop is not None and features is not None:
        raise InvalidInputError("--drop and --features exclude each other: give one of them")
    return {"drop": _names(drop, "--drop"), "features": _names(features, "--features")}


def _names(text: str | None, flag: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidInputError(f"{flag} names no column — give them comma-separated")
    return names

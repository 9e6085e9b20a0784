"""Collecting the blobs no record names: a grace period, then records asked again.

Nothing deletes a blob the moment it looks unused. A blob no record names may be one a
writer has just stored, or just found already stored, for a record it has not written
yet — a registration of the same bytes (models trained on the same rows share their
sample and profile), a run artifact, a stream checkpoint. So every store keeps, per blob,
when it was last *stored*: written, or found present by a writer (``put`` refreshes it,
as git's ``gc`` relies on a written object's mtime). The collector deletes a blob only
when both hold, checked just before that blob goes:

- no record names it (the records are asked about a batch at a time, after listing: a
  version recorded before that is seen), and
- it was last stored longer ago than the grace period.

A writer must therefore record what it stored within the grace period (a registration
takes seconds; the default grace is an hour). What remains is the moment between the
collector's last look at one blob's age and its delete — one ``stat`` and one ``unlink``
on a directory — which is git's own bargain.

Digests come from the store's own listing and are checked as SHA-256 hex before use, so a
file of another name (a temp file, a marker, anything placed there) is never touched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from modelport.errors import InvalidInputError

GRACE_S = 3600.0  # a blob stored (or found stored) this recently is kept, named or not
BATCH = 500  # digests the records are asked about at once

# the records' answer: which of these digests some record names now, in any project
Named = Callable[[Collection[str]], set[str]]


@dataclass(frozen=True)
class Stamp:
    """When a blob was last stored (epoch seconds) and its size in bytes."""

    at: float
    size: int


class Sweepable(Protocol):
    """What a store whose blobs the collector reaches itself (a directory, an object
    store) offers it. A server's store has none of it: its server collects."""

    def digests(self) -> Iterator[str]:
        """Every blob stored, by digest; anything else there is skipped."""
        ...

    def stamp(self, digest: str) -> Stamp | None:
        """When ``digest`` was last stored, and its size; None if it is not stored."""
        ...

    def delete_older(self, digest: str, before: float) -> bool:
        """Delete ``digest`` if it was last stored before ``before`` — looked at again
        here, just before the delete; whether it went."""
        ...


@dataclass
class Collected:
    """What a collection deleted (or, ``dry_run``, would delete) and what it kept."""

    grace_s: float
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    bytes: int = 0
    named: int = 0  # kept: some record names them
    recent: int = 0  # kept: stored within the grace period

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Collected:
        return cls(**{k: data[k] for k in
                      ("grace_s", "dry_run", "deleted", "bytes", "named", "recent")})


def check_grace(grace_s: float) -> float:
    """``grace_s`` if it is a usable grace period in seconds, else ``InvalidInputError``."""
    if isinstance(grace_s, bool) or not isinstance(grace_s, int | float) \
            or not math.isfinite(grace_s) or grace_s < 0:
        raise InvalidInputError(f"the grace period must be a number of seconds ≥ 0, not "
                                f"{grace_s!r}")
    return float(grace_s)


def sweep(store: Sweepable, named: Named, grace_s: float, dry_run: bool = False
          ) -> Collected:
    """Delete the blobs of ``store`` that ``named`` does not name and that were last
    stored more than ``grace_s`` seconds ago; what went and what stayed."""
    report = Collected(check_grace(grace_s), dry_run)
    before = time.time() - report.grace_s
    batch: list[str] = []
    for digest in store.digests():
        batch.append(digest)
        if len(batch) == BATCH:
            _sweep_batch(store, named, batch, before, report)
            batch = []
    _sweep_batch(store, named, batch, before, report)
    return report


def _sweep_batch(store: Sweepable, named: Named, batch: list[str], before: float,
                 report: Collected) -> None:
    if not batch:
        return
    kept = named(batch)
    report.named += len(kept)
    for digest in sorted(set(batch) - kept):
        stamp = store.stamp(digest)
        if stamp is None:  # gone meanwhile
            continue
        if stamp.at < before and (report.dry_run or store.delete_older(digest, before)):
            report.deleted.append(digest)
            report.bytes += stamp.size
        else:  # stored lately — or found by a writer since the look above
            report.recent += 1

"""The prediction logs and labels of models that no longer exist, found and erased.

Deleting a model erases its files (``registry.delete_model``), but models deleted before
it did left theirs, kept by name and number for the next model of the name to read as
its own history — and a delete whose last pass could not remove a file leaves one too.
An orphan is a ``model=NAME`` directory of the log store whose NAME no model has, in any
project (names are unique across projects, so a name no project holds is free for the
next one). Finding them compares the store's model directories with the registry;
erasing them removes every version's files of each.

Only an admin erases them (``modelport logs prune-orphans``, ``lifecycle.predlogs.
prune_orphans``; behind a server, the server's ``DELETE /api/v1/prediction-logs/orphans``
asks an admin key): they are the
record of what a model answered, as ``delete_model`` treats them. A model made under an
orphan's name while it is being erased may lose the files it logged in that moment —
run it, as any clean-up, when that name is not being registered again.

>>> orphans(kept_here(url), lambda name: name in live, erase=False)  # doctest: +SKIP
Orphans(models={'iris': 12}, erased=False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelport.core.logfiles import KeptLogFiles, remove_model


@dataclass
class Orphans:
    """Each orphaned model and its complete files (erased, or found on a dry run)."""

    models: dict[str, int] = field(default_factory=dict)
    erased: bool = False

    @property
    def files(self) -> int:
        return sum(self.models.values())

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.models, "files": self.files, "erased": self.erased}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Orphans:
        return cls({str(k): int(v) for k, v in data["models"].items()}, bool(data["erased"]))


def orphans(kinds: Sequence[KeptLogFiles], exists: Callable[[str], bool],
            erase: bool) -> Orphans:
    """The models of ``kinds`` that ``exists`` says no longer are, with their files —
    erased if ``erase``."""
    found = Orphans(erased=erase)
    for name in sorted({name for files in kinds for name in files.models()}):
        if exists(name):  # asked first: a live model's files are never walked
            continue
        count = sum(len(files.list(name, version)) for files in kinds
                    for version in files.versions(name))
        if count == 0:  # no file (what an erase left): nothing to erase
            continue
        found.models[name] = remove_model(kinds, name) if erase else count
    return found

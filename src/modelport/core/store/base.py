"""The store: one repository per concept group, behind one object per workspace.

The domain (lifecycle, runtimes, control) reads and writes metadata only
through these repositories, so where it lives — a SQL database today, a
``modelport server`` later — is one choice made by URL in ``open_store``.
"""

from __future__ import annotations

from typing import Protocol

from modelport.core.store.devices import DevicesRepository
from modelport.core.store.endpoints import EndpointsRepository
from modelport.core.store.jobs import JobsRepository
from modelport.core.store.keys import KeysRepository
from modelport.core.store.projects import ProjectListing
from modelport.core.store.registry import RegistryRepository
from modelport.core.store.runs import RunsRepository
from modelport.core.store.stats import StatsRepository
from modelport.core.store.streams import StreamsRepository


class Store(Protocol):
    """Every repository of one metadata store. Thread-safe; shared by a process."""

    @property
    def registry(self) -> RegistryRepository: ...

    @property
    def runs(self) -> RunsRepository: ...

    @property
    def keys(self) -> KeysRepository: ...

    @property
    def jobs(self) -> JobsRepository: ...

    @property
    def streams(self) -> StreamsRepository: ...

    @property
    def endpoints(self) -> EndpointsRepository: ...

    @property
    def stats(self) -> StatsRepository: ...

    @property
    def devices(self) -> DevicesRepository: ...

    @property
    def projects(self) -> ProjectListing: ...

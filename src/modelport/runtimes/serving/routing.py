"""Choosing which version answers a request to an endpoint.

Weighted random by default; with a sticky header, the header's value hashes
to a fixed point on the weight line, so one user keeps meeting one version
while the weights stay put (and moves only as much as the weights move).
The hash is CRC-32: the same in every worker and every process.
"""

from __future__ import annotations

import bisect
import random
import zlib
from collections.abc import Mapping

from modelport.lifecycle.endpoints import Endpoint
from modelport.runtimes.serving.served import Served


class EndpointRouter:
    def __init__(self, endpoint: Endpoint, versions: Mapping[str, Served]) -> None:
        self.name = endpoint.name
        self.revision = (endpoint.created, endpoint.revision)
        self.policy = endpoint.policy
        self.versions = frozenset(endpoint.policy.versions())  # O(1) "is V in the policy?"
        # the model a pinned version (/versions/N) of this endpoint names
        self.model = endpoint.policy.routes[0].version.split(":")[0]
        self.sticky = endpoint.policy.sticky_header.lower() if endpoint.policy.sticky_header \
            else None
        self._bounds: list[float] = []
        self._targets: list[Served] = []
        total = 0.0
        for route in endpoint.policy.routes:
            if route.weight > 0:
                total += route.weight
                self._bounds.append(total)
                self._targets.append(versions[route.version])
        self.total = total
        self.shadow = versions[endpoint.policy.shadow] if endpoint.policy.shadow else None
        self.shadow_fraction = endpoint.policy.shadow_percent / 100.0
        self._rng = random.Random()

    def choose(self, headers: Mapping[str, str]) -> Served:
        if len(self._targets) == 1:
            return self._targets[0]
        key = headers.get(self.sticky) if self.sticky else None
        if key is not None:
            point = (zlib.crc32(key.encode()) % 1_000_003) / 1_000_003 * self.total
        else:
            point = self._rng.random() * self.total
        return self._targets[min(bisect.bisect_right(self._bounds, point), len(self._targets) - 1)]

    def mirror(self) -> Served | None:
        """The shadow version when this request is one of the mirrored share."""
        if self.shadow is not None and self._rng.random() < self.shadow_fraction:
            return self.shadow
        return None

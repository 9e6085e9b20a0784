"""Code run in child processes by the registry tests (spawned, so importable)."""

from __future__ import annotations

import time


def register_many(db_url: str, home: str, name: str, count: int, start_at: float,
                  data: bytes, signature: dict) -> list[int]:
    from modelport.config import Settings
    from modelport.core.signature import Signature
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.registry import register_artifact

    ws = Workspace.open(Settings(home=home, db_url=db_url))
    while time.time() < start_at:  # both processes start writing at the same moment
        time.sleep(0.001)
    return [register_artifact(name, "sklearn", data, Signature.from_dict(signature), ws=ws).version
            for _ in range(count)]

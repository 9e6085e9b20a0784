"""Is the machine quiet? CPU used by anything but the server and wrk, before and during a run.

On a shared two-core machine another process (a test suite, another
benchmark) steals the server's core and makes every number lower and every
p99 worse. So each measurement waits (bounded) for the machine to go quiet,
and records how much CPU other processes took while it ran — from
``/proc/stat`` (all cores) minus the ticks of the server's processes and
of wrk — so a disturbed run is visible in the results instead of hidden.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
QUIET_BELOW = 0.10  # of one core, over a one-second look
MAX_WAIT_S = 120.0


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user
    return total - idle, total


def _core_busy() -> dict[str, int]:
    """Busy jiffies of each core, by name (``cpu0``, ``cpu1``…)."""
    out = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                fields = [int(v) for v in values]
                out[name] = sum(fields[:8]) - fields[3] - fields[4]
    return out


def proc_stats() -> dict[int, list[str]]:
    """Every process's ``/proc/PID/stat`` fields after the command name."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        out[int(entry.name)] = stat[stat.rfind(")") + 2:].split()
    return out


def tree(root: int) -> dict[int, str]:
    """``root`` and all its descendants (whatever session they moved to: BentoML's workers
    start their own), with their state letter."""
    stats = proc_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in found:
            found[pid] = stats[pid][0]
            todo += children.get(pid, [])
    return found


def proc_ticks(pids: Iterable[int]) -> int:
    """utime + stime of the given processes (all their threads)."""
    stats = proc_stats()
    return sum(int(stats[p][11]) + int(stats[p][12]) for p in pids if p in stats)


class Meter:
    """CPU taken by other processes between ``start`` and ``stop``, in cores."""

    def __init__(self, server_pid: int) -> None:
        self.pids = set(tree(server_pid))
        self.machine = _machine_ticks()
        self.cores = _core_busy()
        self.mine = proc_ticks(self.pids)
        self.started = time.monotonic()

    def stop(self, load_ticks: int = 0, server_core: str = "cpu0", load_core: str = "cpu1"
             ) -> dict[str, float]:
        """``load_ticks``: CPU ticks the load generator used (it has exited by now). Besides
        the total, the share of others on the server's core and on the load core."""
        busy0, total0 = self.machine
        busy1, total1 = _machine_ticks()
        per_core = {k: v - self.cores.get(k, 0) for k, v in _core_busy().items()}
        mine = proc_ticks(self.pids) - self.mine
        cores = (total1 - total0) / max(1, os.cpu_count() or 1)  # jiffies per core elapsed
        if cores <= 0:
            return {"server_cores": 0.0, "load_cores": 0.0, "other_cores": 0.0}
        other = max(0, (busy1 - busy0) - mine - load_ticks)
        on_server = max(0, per_core.get(server_core, 0) - mine)
        on_load = max(0, per_core.get(load_core, 0) - load_ticks)
        return {"server_cores": round(mine / cores, 3), "load_cores": round(load_ticks / cores, 3),
                "other_cores": round(other / cores, 3),
                "other_on_server_core": round(on_server / cores, 3),
                "other_on_load_core": round(on_load / cores, 3)}


def children_ticks() -> int:
    """CPU ticks of this process's reaped children (wrk runs as one)."""
    times = os.times()
    return round((times.children_user + times.children_system) * TICK)


def busy_elsewhere(seconds: float = 1.0) -> float:
    """Cores' worth of CPU used over ``seconds`` by everything (call it when nothing of ours
    runs)."""
    busy0, total0 = _machine_ticks()
    time.sleep(seconds)
    busy1, total1 = _machine_ticks()
    cores = (total1 - total0) / max(1, os.cpu_count() or 1)
    return (busy1 - busy0) / cores if cores > 0 else 0.0


def wait_quiet(max_wait: float = MAX_WAIT_S, below: float = QUIET_BELOW,
               say: Callable[[str], None] | None = None) -> dict[str, float]:
    """Wait until the machine has been quiet for a second; give up after ``max_wait``."""
    started = time.monotonic()
    busy = busy_elsewhere()
    warned = False
    while busy > below and time.monotonic() - started < max_wait:
        if not warned and say is not None:
            say(f"  waiting for the machine to go quiet (other processes use {busy:.2f} "
                f"cores)")
            warned = True
        time.sleep(2)
        busy = busy_elsewhere()
    return {"waited_s": round(time.monotonic() - started, 1), "busy_cores": round(busy, 3)}

"""onnxruntime sessions fair to a small machine: threads sized to the CPUs this
process may use, idle threads asleep, external data resolving nowhere.

Why: left to itself onnxruntime sizes its pools to the machine's cores — not to
the CPUs a container, ``taskset`` or cgroup leaves the process — and its idle
threads spin waiting for work. On a contended 2-core device that turned a
0.6 s prediction into minutes of wall time. Every session, on a device and on
the platform (serve, batch, stream, the ONNX parity check), is built here:
``modelport`` imports this module, ``modelport_edge`` never imports
``modelport``.

``MODELPORT_ONNX_THREADS`` sets the intra-op threads of every session explicitly;
it is still capped at the CPUs the process may use.

>>> options = session_options()                  # doctest: +SKIP
>>> ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from typing import Any

THREADS_ENV = "MODELPORT_ONNX_THREADS"
EXTERNAL_FOLDER_KEY = "session.model_external_initializers_file_folder_path"
NO_SPINNING = {"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}
_empty_dir: str | None = None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity API (macOS, Windows): the machine's count
        return os.cpu_count() or 1


def intra_op_threads(default: int | None = None) -> int:
    """Threads for one session's operators: ``MODELPORT_ONNX_THREADS`` if set, else
    ``default``, else every usable CPU — never more than the usable CPUs."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    wanted = default
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{THREADS_ENV} must be a whole number of threads ≥ 1, got {raw!r}")
        wanted = int(raw)
    return min(wanted or usable_cpus(), usable_cpus())


def session_options(default_threads: int | None = None) -> Any:
    """onnxruntime ``SessionOptions``: sized threads, no spinning, no external data.

    A bundle or a registered version is one blob with no directory of its own, and
    onnxruntime resolves bytes' external data against the working directory (a
    crafted model read a signing key that way): it resolves against an empty
    private directory instead. Operators run in sequence (one inter-op thread).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads(default_threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for key, value in NO_SPINNING.items():
        options.add_session_config_entry(key, value)
    options.add_session_config_entry(EXTERNAL_FOLDER_KEY, _empty_folder())
    # errors only: converters declare some output shapes loosely (a label of shape [1],
    # a binary score of [N, 2]) and onnxruntime would log that on every call
    options.log_severity_level = 3
    return options


def _empty_folder() -> str:
    """A directory of this process's own that stays empty (mode 0700, removed at exit)."""
    global _empty_dir
    if _empty_dir is None:
        _empty_dir = tempfile.mkdtemp(prefix="modelport-onnx-")
        atexit.register(_remove_quietly, _empty_dir)
    return _empty_dir


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)

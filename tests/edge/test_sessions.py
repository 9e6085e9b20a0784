"""onnxruntime sessions sized to the CPUs the process may use, never spinning —
on a device (``EdgeModel``) and on the platform (``OnnxFormat``: serve, batch,
stream, the parity check) alike."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelport.core.formats import get_format
from modelport.errors import InvalidInputError
from modelport_edge.sessions import (
    EXTERNAL_FOLDER_KEY,
    NO_SPINNING,
    THREADS_ENV,
    intra_op_threads,
    session_options,
    usable_cpus,
)

pytest.importorskip("onnxruntime")


def _doubling_model() -> bytes:
    from onnx import TensorProto, helper

    spec = [None, 2]
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])], "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, spec)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, spec)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def _assert_quiet(options: object) -> None:
    for key, value in NO_SPINNING.items():
        assert options.get_session_config_entry(key) == value  # type: ignore[attr-defined]
    assert options.inter_op_num_threads == 1  # type: ignore[attr-defined]
    folder = options.get_session_config_entry(EXTERNAL_FOLDER_KEY)  # type: ignore[attr-defined]
    assert Path(folder).is_dir() and not os.listdir(folder)


def test_options_use_every_usable_cpu_by_default_and_never_spin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    options = session_options()
    assert options.intra_op_num_threads == usable_cpus() == len(os.sched_getaffinity(0))
    _assert_quiet(options)
    assert session_options(default_threads=1).intra_op_num_threads == 1


def test_an_explicit_setting_wins_but_stays_within_the_usable_cpus(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "1")
    assert session_options().intra_op_num_threads == 1
    monkeypatch.setenv(THREADS_ENV, "4096")
    assert intra_op_threads(default=1) == usable_cpus()


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_setting_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(THREADS_ENV, bad)
    with pytest.raises(ValueError, match=f"{THREADS_ENV} must be a whole number"):
        session_options()
    with pytest.raises(InvalidInputError, match=THREADS_ENV):
        get_format("onnx").load_model(_doubling_model())


def test_platform_sessions_take_one_thread_and_do_not_spin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    session = get_format("onnx").load_model(_doubling_model())
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    _assert_quiet(options)


def test_a_device_pinned_to_one_cpu_gets_one_thread_and_no_pool(tmp_path: Path) -> None:
    """Under ``taskset -c 0`` a session starts no thread of its own: the caller computes."""
    model = tmp_path / "double.onnx"
    model.write_bytes(_doubling_model())
    script = textwrap.dedent(f"""
        import os, numpy as np, onnxruntime as ort
        from modelport_edge.sessions import session_options
        before = len(os.listdir("/proc/self/task"))
        options = session_options()
        session = ort.InferenceSession({str(model)!r}, options,
                                       providers=["CPUExecutionProvider"])
        y = session.run(None, {{"x": np.ones((64, 2), np.float32)}})[0]
        assert float(y.sum()) == 256.0
        print(session.get_session_options().intra_op_num_threads,
              len(os.listdir("/proc/self/task")) - before)
    """)
    env = {k: v for k, v in os.environ.items() if k != THREADS_ENV}
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", script], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split() == ["1", "0"]

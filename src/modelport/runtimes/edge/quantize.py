"""Dynamic int8 quantization of an ONNX graph, shared by tabular and imported-graph bundles."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from modelport.errors import ExportError, require

QUANTIZABLE = frozenset({"MatMul", "Gemm", "Conv"})
INTEGER_OPS = frozenset({"MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger",
                         "DynamicQuantizeLinear"})


def quantize_int8(onnx_bytes: bytes) -> tuple[bytes, dict[str, Any]]:
    """Dynamic int8 quantization: int8 weights, activations quantized on the fly.

    It applies to MatMul / Gemm / Conv; tree ensembles and the ONNX-ML linear
    operators have none, so their model is kept as it is and the manifest says so.
    """
    require("onnx", "onnx")
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = {n.op_type for n in onnx.load_from_string(onnx_bytes).graph.node}
    if not ops & QUANTIZABLE:
        return onnx_bytes, {"method": "dynamic", "weights": "int8", "integer_ops": 0,
                            "note": "no MatMul/Gemm/Conv in this model: tree and ONNX-ML "
                                    "linear operators stay float, the model is unchanged"}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice on the root logger
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            src.write_bytes(onnx_bytes)
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            data = dst.read_bytes()
    except Exception as exc:  # the quantizer raises anything from ValueError up
        raise ExportError(f"int8 quantization failed: {exc}") from None
    finally:
        root.setLevel(level)
    quantized = [n.op_type for n in onnx.load_from_string(data).graph.node]
    integer = sum(op in INTEGER_OPS for op in quantized)
    return data, {"method": "dynamic", "weights": "int8", "integer_ops": integer, "note": None}

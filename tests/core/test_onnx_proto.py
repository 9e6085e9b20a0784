"""The protobuf-only reading of ONNX files (``onnx_proto``) agrees with ``onnx`` itself:
the same field numbers and types, the same nodes, tensors and attribute values."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from modelport.core.formats import onnx_check
from modelport.core.formats.onnx_proto import MESSAGES, TYPES, attribute_value, parse_model


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_field_matches_onnx_proto(name: str) -> None:
    ours = TYPES[name].DESCRIPTOR
    theirs = getattr(onnx, name).DESCRIPTOR
    for field in ours.fields:
        official = theirs.fields_by_name[field.name]
        assert field.number == official.number, field.name
        assert field.label == official.label, field.name
        if official.type == official.TYPE_ENUM:  # read as its int32
            assert field.type == field.TYPE_INT32, field.name
        else:
            assert field.type == official.type, field.name
        if official.message_type is not None:
            assert field.message_type.name == official.message_type.name, field.name


def _model() -> onnx.ModelProto:
    """A graph with an initializer, an If with subgraphs holding tensors, attributes of
    every plain type, and a local function with a tensor attribute and a default."""
    weight = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(
            np.ones(3, np.float32), "inner"))], "then", [],
        [helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [3])])
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["y"]),
        helper.make_node("If", ["cond"], ["z"], then_branch=branch, else_branch=branch),
        helper.make_node("LinearRegressor", ["x"], ["r"], domain="ai.onnx.ml",
                         coefficients=[0.5, -1.0], intercepts=[2.0], targets=1,
                         post_transform="NONE"),
        helper.make_node("Twice", ["y"], ["t"], domain="local"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("t", onnx.TensorProto.FLOAT, [1, 3])], [weight])
    body = [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(
        np.full(3, 2.0, np.float32), "two")), helper.make_node("Mul", ["a", "k"], ["b"])]
    function = helper.make_function("local", "Twice", ["a"], ["b"], body,
                                    [helper.make_opsetid("", 17)])
    function.attribute_proto.append(helper.make_attribute(
        "scale", numpy_helper.from_array(np.ones(1, np.float32), "default")))
    return helper.make_model(graph, functions=[function], opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3),
        helper.make_opsetid("local", 1)])


def test_the_walk_finds_what_onnx_finds() -> None:
    model = _model()
    ours = parse_model(model.SerializeToString())
    for walked in (onnx_check.walk_model(model), onnx_check.walk_model(ours)):
        nodes, tensors = walked
        assert sorted(n.op_type for n in nodes) == [
            "Constant", "Constant", "Constant", "If", "LinearRegressor", "MatMul", "Mul",
            "Twice"]
        assert sorted(t.name for t in tensors) == ["default", "inner", "inner", "two", "w"]
    assert ours.graph.input[0].name == "x" and [o.domain for o in ours.opset_import] == [
        "", "ai.onnx.ml", "local"]


def test_attribute_values_match_onnx_helper() -> None:
    model = _model()
    ours = parse_model(model.SerializeToString())
    for theirs_node, our_node in zip(model.graph.node, ours.graph.node, strict=True):
        for theirs_attr, our_attr in zip(theirs_node.attribute, our_node.attribute,
                                         strict=True):
            value = attribute_value(our_attr)
            if theirs_attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.TENSOR):
                assert value is None
            else:
                assert value == pytest.approx(helper.get_attribute_value(theirs_attr))


def test_an_external_tensor_in_a_function_default_is_found() -> None:
    """A function's default attribute value is walked too: a tensor there that points at
    another file is seen (and refused by ``check_model``)."""
    model = _model()
    tensor = model.functions[0].attribute_proto[0].t
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../../secret.key")
    _, tensors = onnx_check.walk_model(parse_model(model.SerializeToString()))
    (external,) = [t for t in tensors if onnx_check.is_external(t)]
    assert onnx_check.external_location(external) == "../../secret.key"


def test_garbage_is_not_a_model() -> None:
    with pytest.raises(onnx_check.InvalidInputError, match="not a loadable ONNX model"):
        onnx_check.check_model(b"\xff\xff\xff\xff")

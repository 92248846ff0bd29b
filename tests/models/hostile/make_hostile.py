#!/usr/bin/env python3
"""Write the hostile-model corpus: small ONNX files that are broken, malicious or absurd.

Run from the repository root (deterministic; well under a second):

    nice -n 10 /usr/bin/python3 tests/models/hostile/make_hostile.py

Writes one file per case into tests/models/hostile/ (next to this script), after deleting the
.onnx/.bin files written by an earlier run. tests/unit/test_hostile_models.cpp loads each
.onnx file and expects a qs::Error whose message contains the words listed for it in
expected.json; every .onnx file here must be listed there.

Most models are built with onnx.helper; where onnx.helper or protobuf will not write what a
case needs (truncated or bit-flipped bytes, nesting deeper than protobuf parses, packed huge
lists, length fields that claim gigabytes), the bytes are written by hand.

Two cases cannot be stored in git as they must be: ext_symlink.onnx and ext_hardlink.onnx
name external data ("link.bin", "hard.bin") that the test creates at run time, in a temporary
folder, as a symlink and a hard link to a file outside the model's folder.

Requirements: Debian's python3-onnx (1.12).
"""

import glob
import os
import struct
import warnings

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT = TensorProto.FLOAT
LIMIT = 200 * 1024  # bytes per file

cases = {}  # file name -> bytes


def add(name, data):
    if isinstance(data, onnx.ModelProto):
        data = data.SerializeToString()
    assert name not in cases, name
    assert len(data) < LIMIT, (name, len(data))
    cases[name] = data


# --------------------------------------------------------------------------- protobuf by hand
def varint(n):
    n &= (1 << 64) - 1  # negative int64 values are written as 10-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3 | 0) + varint(value)


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def parses(data):
    """Whether protobuf parses the bytes as a ModelProto, all of them (as C++ ParseFromString)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Unexpected end-group tag: Not all data was converted"
        try:
            onnx.ModelProto.FromString(data)
            return True
        except Exception:  # DecodeError, RuntimeWarning, RecursionError for deep nesting
            return False


# --------------------------------------------------------------------------- model helpers
def tensor_info(name, shape, elem_type=FLOAT):
    return helper.make_tensor_value_info(name, elem_type, shape)


def model(nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(graph, producer_name="quantscope-hostile",
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def raw_tensor(name, dims, raw, data_type=FLOAT):
    t = TensorProto()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def floats(n, start=0.0):
    return struct.pack("<%df" % n, *[start + 0.25 * i for i in range(n)])


def add_model(x_shape, w):
    """y = x + w: the smallest model that reads an initializer."""
    return model([helper.make_node("Add", ["x", w.name], ["y"], name="add")],
                 [tensor_info("x", x_shape)], [tensor_info("y", None)], [w])


def conv_model():
    """A small valid model (Conv + Relu, weights inline) for the byte-level damage cases."""
    w = raw_tensor("conv_w", [4, 1, 3, 3], floats(36))
    b = raw_tensor("conv_b", [4], floats(4, -0.5))
    nodes = [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], name="conv",
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return model(nodes, [tensor_info("x", [1, 1, 8, 8])], [tensor_info("y", [1, 4, 8, 8])],
                 [w, b])


def flip(data, offset, bit):
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


def external_tensor(name, dims, entries):
    t = TensorProto()
    t.name = name
    t.data_type = FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in entries:
        e = t.external_data.add()
        e.key = key
        e.value = value
    return t


def external_model(entries, dims=(4,)):
    return add_model([4], external_tensor("w", list(dims), entries))


# =========================================================================== bytes and parsing
good = conv_model().SerializeToString()
assert parses(good)

add("empty.onnx", b"")
add("not_onnx_text.onnx", b"This is not an ONNX model, just a text file.\n")
add("truncated_half.onnx", good[: len(good) // 2])
add("truncated_last_byte.onnx", good[:-1])
assert not parses(cases["truncated_half.onnx"]) and not parses(cases["truncated_last_byte.onnx"])

# A serialized TensorProto saved under a model name: it parses, but it is no model.
add("tensor_pb_as_model.onnx", raw_tensor("x", [2, 2], floats(4)).SerializeToString())

# Byte 0 is the tag of ir_version (field 1, varint): bit 2 turns it into an END_GROUP tag.
assert good[0] == 0x08
add("bitflip_header.onnx", flip(good, 0, 2))
assert not parses(cases["bitflip_header.onnx"])

# The graph (field 7) length: a set bit 6 in its second varint byte claims 8 KiB more.
graph_at = good.index(bytes([7 << 3 | 2]))
assert good[graph_at + 1] & 0x80 and not good[graph_at + 2] & 0x80
add("bitflip_length.onnx", flip(good, graph_at + 2, 6))
assert not parses(cases["bitflip_length.onnx"])

# The first dimension of conv_w (dims field 1: 08 04 08 01 08 03 08 03): 4 -> 6.
dims_at = good.index(bytes([0x08, 4, 0x08, 1, 0x08, 3, 0x08, 3]))
add("bitflip_dims.onnx", flip(good, dims_at + 1, 1))
assert parses(cases["bitflip_dims.onnx"])

# The opset version, the last byte of the file (opset_import: 42 04 0a 00 10 0d): 13 -> 77.
assert good.endswith(bytes([0x10, 13]))
add("bitflip_opset.onnx", flip(good, len(good) - 1, 6))

# "Relu" -> "Rmlu" (0x65 ^ 0x08).
relu_at = good.index(b"Relu")
add("bitflip_op_type.onnx", flip(good, relu_at + 1, 3))
assert b"Rmlu" in cases["bitflip_op_type.onnx"]

# A length field that claims 3 GB in a 40-byte file: an initializer's raw_data (field 9 of
# TensorProto), inside a graph whose own length claims the same plus its header.
claim = 3_000_000_000
tensor_head = field_varint(1, 1024) + field_varint(2, FLOAT) + field_bytes(8, b"w")
tensor_len = len(tensor_head) + len(varint(9 << 3 | 2) + varint(claim)) + claim
graph_len = len(varint(5 << 3 | 2) + varint(tensor_len)) + tensor_len
add("protobuf_length_3gb.onnx",
    field_varint(1, 7) + varint(7 << 3 | 2) + varint(graph_len) + varint(5 << 3 | 2) +
    varint(tensor_len) + tensor_head + varint(9 << 3 | 2) + varint(claim) + floats(4))
assert not parses(cases["protobuf_length_3gb.onnx"])

# =========================================================================== model header
m = conv_model()
del m.opset_import[:]
add("no_opset.onnx", m)

m = onnx.ModelProto()
m.ir_version = 7
m.opset_import.extend([helper.make_opsetid("", 13)])
add("no_graph.onnx", m)

m = conv_model()
m.opset_import[0].version = (1 << 63) - 1
add("opset_absurd.onnx", m)

m = conv_model()
m.graph.ClearField("output")
add("no_graph_outputs.onnx", m)

# =========================================================================== shapes
add("dims_overflow.onnx", add_model([4], raw_tensor("w", [1 << 32, 1 << 32, 1 << 32], b"")))
add("negative_dim.onnx", add_model([4], raw_tensor("w", [2, -4], b"")))
add("absurd_dim.onnx", add_model([4], raw_tensor("w", [1 << 40], floats(4))))
add("input_dims_overflow.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [1 << 31, 1 << 31, 1 << 31])], [tensor_info("y", None)]))
add("negative_input_dim.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [1, -3])], [tensor_info("y", None)]))
# A declared input of 10^15 floats: the model loads, allocating the input must fail cleanly.
add("absurd_input_dim.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [1, 10 ** 15])], [tensor_info("y", None)]))

# A Conv weight with zero input channels (a legal empty tensor) against a 1-channel input.
add("zero_dim_initializer.onnx",
    model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_empty")],
          [tensor_info("x", [1, 1, 8, 8])], [tensor_info("y", None)],
          [raw_tensor("w", [4, 0, 3, 3], b"")]))
add("zero_dim_input.onnx",
    model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_zero_channels")],
          [tensor_info("x", [1, 0, 8, 8])], [tensor_info("y", None)],
          [raw_tensor("w", [4, 1, 3, 3], floats(36))]))

# Shapes computed from constants: a Reshape to 10^24 elements, a ConstantOfShape of 2^62.
add("reshape_absurd.onnx",
    model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_absurd")],
          [tensor_info("x", [2, 3])], [tensor_info("y", None)],
          [helper.make_tensor("shape", TensorProto.INT64, [2], [10 ** 12, 10 ** 12])]))
add("constant_of_shape_absurd.onnx",
    model([helper.make_node("ConstantOfShape", ["shape"], ["big"], name="cos_absurd"),
           helper.make_node("Add", ["x", "big"], ["y"], name="add")],
          [tensor_info("x", [1])], [tensor_info("y", None)],
          [helper.make_tensor("shape", TensorProto.INT64, [2], [1 << 31, 1 << 31])]))

# =========================================================================== data vs shape
add("raw_data_size_mismatch.onnx", add_model([3, 4], raw_tensor("w", [3, 4], floats(10)[:10])))
w = helper.make_tensor("w", FLOAT, [3, 4], [0.0] * 12)
del w.float_data[5:]
add("float_data_count_mismatch.onnx", add_model([3, 4], w))
# 4 GiB claimed by dims, 16 bytes of data.
add("size_claim_2gb.onnx", add_model([4], raw_tensor("big", [1024, 1024, 1024], floats(4))))
# A 4 GiB graph input: declared, it loads; allocating it for a run must be refused.
add("input_size_claim_2gb.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [1024, 1024, 1024])], [tensor_info("y", None)]))
add("initializer_bad_dtype.onnx", add_model([4], raw_tensor("w", [4], floats(4), data_type=999)))
add("initializer_string_dtype.onnx",
    add_model([1], helper.make_tensor("w", TensorProto.STRING, [1], [b"hello"])))
add("input_bad_dtype.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [4], elem_type=999)], [tensor_info("y", None)]))
seq = helper.make_tensor_sequence_value_info("x", FLOAT, [4])
add("input_not_tensor.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [seq],
          [tensor_info("y", None)]))

# =========================================================================== graph structure
add("cycle.onnx",
    model([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
           helper.make_node("Relu", ["a"], ["b"], name="n2"),
           helper.make_node("Relu", ["a"], ["y"], name="n3")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("self_loop.onnx",
    model([helper.make_node("Add", ["x", "a"], ["a"], name="loop"),
           helper.make_node("Relu", ["a"], ["y"], name="relu")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("undefined_input.onnx",
    model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("undefined_graph_output.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [4])], [tensor_info("y", None), tensor_info("phantom", None)]))
add("duplicate_output_names.onnx",
    model([helper.make_node("Relu", ["x"], ["y"], name="first"),
           helper.make_node("Sigmoid", ["x"], ["y"], name="second")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("output_shadows_input.onnx",
    model([helper.make_node("Relu", ["x"], ["x"], name="overwrite"),
           helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("output_shadows_initializer.onnx",
    model([helper.make_node("Relu", ["x"], ["w"], name="overwrite"),
           helper.make_node("Add", ["x", "w"], ["y"], name="add")],
          [tensor_info("x", [4])], [tensor_info("y", None)], [raw_tensor("w", [4], floats(4))]))
add("duplicate_initializer.onnx",
    model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
          [tensor_info("x", [4])], [tensor_info("y", None)],
          [raw_tensor("w", [4], floats(4)), raw_tensor("w", [4], floats(4, 1.0))]))
add("duplicate_node_names.onnx",
    model([helper.make_node("Relu", ["x"], ["a"], name="twin"),
           helper.make_node("Relu", ["a"], ["y"], name="twin")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("duplicate_graph_input.onnx",
    model([helper.make_node("Add", ["x", "x"], ["y"], name="add")],
          [tensor_info("x", [4]), tensor_info("x", [4])], [tensor_info("y", None)]))
node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky", alpha=0.1)
node.attribute.extend([helper.make_attribute("alpha", 0.2)])
add("duplicate_attribute.onnx", model([node], [tensor_info("x", [4])], [tensor_info("y", None)]))
add("empty_op_type.onnx",
    model([helper.make_node("", ["x"], ["y"], name="nameless_op")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("too_many_outputs.onnx",
    model([helper.make_node("Relu", ["x"], ["y", "extra1", "extra2"], name="relu3")],
          [tensor_info("x", [4])], [tensor_info("y", None)]))
add("too_few_inputs.onnx",
    model([helper.make_node("Conv", ["x"], ["y"], name="conv_no_weight")],
          [tensor_info("x", [1, 1, 4, 4])], [tensor_info("y", None)]))

# Hostile attribute values and constants.
add("conv_zero_stride.onnx",
    model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_stride0", strides=[0, 0])],
          [tensor_info("x", [1, 1, 8, 8])], [tensor_info("y", None)],
          [raw_tensor("w", [4, 1, 3, 3], floats(36))]))
add("conv_zero_group.onnx",
    model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv_group0", group=0)],
          [tensor_info("x", [1, 1, 8, 8])], [tensor_info("y", None)],
          [raw_tensor("w", [4, 1, 3, 3], floats(36))]))
add("maxpool_zero_kernel.onnx",
    model([helper.make_node("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[0, 0])],
          [tensor_info("x", [1, 1, 8, 8])], [tensor_info("y", None)]))
add("gather_index_out_of_range.onnx",
    model([helper.make_node("Gather", ["data", "idx"], ["g"], name="gather_oob"),
           helper.make_node("Add", ["x", "g"], ["y"], name="add")],
          [tensor_info("x", [1])], [tensor_info("y", None)],
          [raw_tensor("data", [4], floats(4)),
           helper.make_tensor("idx", TensorProto.INT64, [1], [1 << 40])]))

# =========================================================================== attributes
# A subgraph attribute nested 1000 levels deep (If -> then_branch -> If -> ...), 3000 protobuf
# messages deep: written by hand, as protobuf refuses to serialize (or parse) it.
def nested_graph_attribute(depth):
    graph = field_bytes(2, b"g%d" % depth)  # GraphProto.name
    for level in range(depth - 1, -1, -1):
        attr = (field_bytes(1, b"then_branch") + field_varint(20, onnx.AttributeProto.GRAPH) +
                field_bytes(6, graph))
        if level == 0:
            return attr
        node = field_bytes(4, b"If") + field_bytes(5, attr)  # NodeProto.op_type, .attribute
        graph = field_bytes(1, node) + field_bytes(2, b"g%d" % level)


def with_raw_attribute(node, attribute_bytes, inputs, outputs):
    """A model whose one node carries a hand-written attribute (concatenated protobuf fields
    merge: the node gains the attribute, the graph gains the node, the model gains the graph)."""
    node_bytes = node.SerializeToString() + field_bytes(5, attribute_bytes)
    m = model([], inputs, outputs)
    graph_bytes = m.graph.SerializeToString() + field_bytes(1, node_bytes)
    m.ClearField("graph")
    return m.SerializeToString() + field_bytes(7, graph_bytes)


deep = with_raw_attribute(helper.make_node("If", ["cond"], ["y"], name="deep_if"),
                          nested_graph_attribute(1000),
                          [tensor_info("cond", [], TensorProto.BOOL)], [tensor_info("y", None)])
add("deep_nested_graph_attr.onnx", deep)
assert not parses(deep)

# Nested only 5 levels: it parses; the If nodes have no else_branch, which is refused.
shallow = with_raw_attribute(helper.make_node("If", ["cond"], ["y"], name="shallow_if"),
                             nested_graph_attribute(5),
                             [tensor_info("cond", [], TensorProto.BOOL)],
                             [tensor_info("y", None)])
add("nested_graph_attr.onnx", shallow)
assert parses(shallow)

# Transpose with a perm of 100 000 entries (packed: one byte each) on a rank-2 input.
perm = field_bytes(1, b"perm") + field_varint(20, onnx.AttributeProto.INTS) + field_bytes(
    8, b"\x01" * 100_000)
add("huge_ints_attribute.onnx",
    with_raw_attribute(helper.make_node("Transpose", ["x"], ["y"], name="transpose_huge"),
                       perm, [tensor_info("x", [2, 3])], [tensor_info("y", None)]))
assert len(onnx.ModelProto.FromString(cases["huge_ints_attribute.onnx"])
           .graph.node[0].attribute[0].ints) == 100_000

# A node with 10 000 attributes, the last a second 'alpha'.
node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky_many", alpha=0.1)
node.attribute.extend([helper.make_attribute("a%d" % i, i) for i in range(10_000)])
node.attribute.extend([helper.make_attribute("alpha", 0.2)])
add("huge_attribute_list.onnx", model([node], [tensor_info("x", [4])], [tensor_info("y", None)]))

# An attribute with no type and no value.
node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky_empty")
a = node.attribute.add()
a.name = "alpha"
add("attribute_without_value.onnx",
    model([node], [tensor_info("x", [4])], [tensor_info("y", None)]))

# Transpose's perm given as a float list.
add("attribute_wrong_type.onnx",
    model([helper.make_node("Transpose", ["x"], ["y"], name="transpose_floats",
                            perm=[1.0, 0.0])],
          [tensor_info("x", [2, 3])], [tensor_info("y", None)]))

# =========================================================================== external data
add("ext_dotdot.onnx", external_model([("location", "../secret.bin")]))
add("ext_dotdot_inner.onnx", external_model([("location", "weights/../../secret.bin")]))
add("ext_absolute.onnx", external_model([("location", "/etc/passwd")]))
add("ext_backslash.onnx", external_model([("location", "..\\secret.bin")]))
add("ext_symlink.onnx", external_model([("location", "link.bin")]))
add("ext_hardlink.onnx", external_model([("location", "hard.bin")]))
add("ext_missing_file.onnx", external_model([("location", "no_such_file.bin")]))
add("ext_no_location.onnx", external_model([("offset", "0"), ("length", "16")]))
add("ext_directory.onnx", external_model([("location", ".")]))

# ext_data.bin holds 16 bytes (4 floats); these read past its end or misname the range.
add("ext_offset_past_end.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "8"), ("length", "16")]))
add("ext_offset_beyond_file.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "1000"), ("length", "16")]))
add("ext_offset_negative.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "-8"), ("length", "16")]))
add("ext_offset_not_a_number.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "0abc"), ("length", "16")]))
add("ext_length_3gb.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "0"), ("length", "3000000000")]))
add("ext_length_mismatch.onnx",
    external_model([("location", "ext_data.bin"), ("offset", "0"), ("length", "8")]))

# 1200 initializers of 64 KiB each, all read from the same 64 KiB file: 75 MiB from 120 KiB.
AMP_FLOATS = 16384
inits = [external_tensor("w%04d" % i, [AMP_FLOATS], [("location", "ext_amplification.bin")])
         for i in range(1200)]
add("ext_amplification.onnx",
    model([helper.make_node("Add", ["x", "w0000"], ["y"], name="add")],
          [tensor_info("x", [AMP_FLOATS])], [tensor_info("y", None)], inits))

data_files = {"ext_data.bin": floats(4), "ext_amplification.bin": bytes(4 * AMP_FLOATS)}

# =========================================================================== write
for old in glob.glob(os.path.join(HERE, "*.onnx")) + glob.glob(os.path.join(HERE, "*.bin")):
    os.remove(old)
for name, data in sorted(list(cases.items()) + list(data_files.items())):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
total = sum(len(d) for d in cases.values()) + sum(len(d) for d in data_files.values())
print("%d models, %d data files, %d bytes in all" % (len(cases), len(data_files), total))
assert total < 1024 * 1024

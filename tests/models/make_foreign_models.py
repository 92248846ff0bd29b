#!/usr/bin/env python3
"""Generate small "foreign" ONNX test models in older opsets, built by hand with onnx.helper.

Run from the repository root:

    nice -n 10 /usr/bin/python3 tests/models/make_foreign_models.py

Writes into tests/models/ (next to this script):
    opset9_constants.onnx               opset 9,  all weights in Constant nodes
    opset11_resize_convtranspose.onnx   opset 11, all weights in Constant nodes
    opset13_mixed.onnx                  opset 13, weights as initializers
and, for each model, a reference input/output pair as serialized onnx.TensorProto:
    <model>.input.pb   float32 [1,1,28,28], uniform [0,1), fixed seed
    <model>.output.pb  expected output, computed by a small torch/numpy evaluator in this
                       script that implements each node's semantics for that opset

Weights are random (numpy default_rng with a fixed seed per model), so the outputs mean
nothing; the models exist to exercise the importer and the old-opset semantics.
Requirements: Debian's python3-onnx (1.12), python3-torch (1.13, for the reference outputs),
numpy.
"""

import collections
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import torch
import torch.nn.functional as F

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT_SHAPE = [1, 1, 28, 28]


# --------------------------------------------------------------------------- helpers
class Builder:
    """Collects nodes, and weights either as initializers or as Constant nodes."""

    def __init__(self, seed, weights_as_constants):
        self.rng = np.random.default_rng(seed)
        self.constants = weights_as_constants
        self.nodes = []
        self.initializers = []
        self.count = collections.Counter()

    def name(self, prefix):
        self.count[prefix] += 1
        return "%s_%d" % (prefix, self.count[prefix])

    def const(self, prefix, array):
        array = np.asarray(array)
        name = self.name(prefix)
        tensor = numpy_helper.from_array(array, name)
        if self.constants:
            self.nodes.append(helper.make_node("Constant", [], [name], name=name + "_const", value=tensor))
        else:
            self.initializers.append(tensor)
        return name

    def weight(self, prefix, shape, fan_in, gain=2.0):
        w = self.rng.normal(0.0, np.sqrt(gain / fan_in), size=shape).astype(np.float32)
        return self.const(prefix, w)

    def bias(self, prefix, n, scale=0.1):
        return self.const(prefix, self.rng.uniform(-scale, scale, size=[n]).astype(np.float32))

    def op(self, op_type, inputs, n_outputs=1, **attrs):
        base = self.name(op_type.lower())
        outputs = [base] if n_outputs == 1 else ["%s_out%d" % (base, i) for i in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=base, **attrs))
        return outputs[0] if n_outputs == 1 else outputs


def finish(builder, graph_name, opset, output, output_shape, doc):
    graph = helper.make_graph(
        builder.nodes, graph_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, INPUT_SHAPE)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)],
        initializer=builder.initializers,
    )
    # rename the last node's output to "output"
    for node in graph.node:
        for i, o in enumerate(node.output):
            if o == output:
                node.output[i] = "output"
        for i, x in enumerate(node.input):
            if x == output:
                node.input[i] = "output"
    model = helper.make_model(graph, producer_name="quantscope-make-foreign-models",
                              opset_imports=[helper.make_opsetid("", opset)], doc_string=doc)
    # IR version that matches the opset the way contemporary exporters wrote it
    model.ir_version = {9: 4, 11: 6, 13: 7}[opset]
    onnx.checker.check_model(model, full_check=True)
    return model


# --------------------------------------------------------------------------- model 1: opset 9
def make_opset9():
    b = Builder(seed=9, weights_as_constants=True)
    x = "input"
    # Conv 1->8, 3x3, pad 1 -> [1,8,28,28]
    x = b.op("Conv", [x, b.weight("conv1_w", [8, 1, 3, 3], 9), b.bias("conv1_b", 8)],
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    # BatchNormalization (opset 9: epsilon, momentum; inference form, 1 output)
    bn = [b.const("bn1_scale", b.rng.uniform(0.5, 1.5, 8).astype(np.float32)),
          b.const("bn1_bias", b.rng.uniform(-0.2, 0.2, 8).astype(np.float32)),
          b.const("bn1_mean", b.rng.uniform(-0.3, 0.3, 8).astype(np.float32)),
          b.const("bn1_var", b.rng.uniform(0.2, 1.0, 8).astype(np.float32))]
    x = b.op("BatchNormalization", [x] + bn, epsilon=1e-3, momentum=0.9)
    x = b.op("Relu", [x])
    x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])            # [1,8,14,14]
    # Upsample-9: scales is an input (float, one per axis)
    x = b.op("Upsample", [x, b.const("up_scales", np.array([1, 1, 2, 2], np.float32))],
             mode="nearest")                                                 # [1,8,28,28]
    x = b.op("Conv", [x, b.weight("conv2_w", [8, 8, 3, 3], 72), b.bias("conv2_b", 8)],
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])       # [1,8,14,14]
    # Clip-6: min/max are attributes
    x = b.op("Clip", [x], min=-0.5, max=1.5)
    x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])            # [1,8,7,7]
    x = b.op("Flatten", [x], axis=1)                                         # [1,392]
    x = b.op("Gemm", [x, b.weight("fc1_w", [32, 392], 392), b.bias("fc1_b", 32)],
             alpha=1.0, beta=1.0, transB=1)                                  # [1,32]
    x = b.op("Relu", [x])
    # Unsqueeze/Squeeze-1: axes are attributes
    x = b.op("Unsqueeze", [x], axes=[2, 3])                                  # [1,32,1,1]
    x = b.op("Reshape", [x, b.const("shape_1x4x8", np.array([1, 4, 8], np.int64))])  # [1,4,8]
    x = b.op("Unsqueeze", [x], axes=[0])                                     # [1,1,4,8]
    x = b.op("Squeeze", [x], axes=[0])                                       # [1,4,8]
    x = b.op("Reshape", [x, b.const("shape_1x32x1x1", np.array([1, 32, 1, 1], np.int64))])
    x = b.op("Squeeze", [x], axes=[2, 3])                                    # [1,32]
    # Gemm with transA=0, transB=0 and a [1,10] bias (unidirectional broadcast), alpha != 1
    x = b.op("Gemm", [x, b.weight("fc2_w", [32, 10], 32, gain=1.0),
                      b.const("fc2_b", b.rng.uniform(-0.1, 0.1, [1, 10]).astype(np.float32))],
             alpha=0.5, beta=1.0)                                            # [1,10]
    x = b.op("Softmax", [x], axis=1)
    return finish(b, "opset9_constants", 9, x, [1, 10],
                  "Opset-9 CNN, all weights in Constant nodes: Conv, BatchNormalization, Relu, MaxPool, "
                  "Upsample (scales input), Clip (min/max attributes), Flatten, Gemm, Unsqueeze/Squeeze "
                  "(axes attributes), Reshape, Softmax (axis=1, 2-D).")


# --------------------------------------------------------------------------- model 2: opset 11
def make_opset11():
    b = Builder(seed=11, weights_as_constants=True)
    empty_f = lambda: b.const("empty", np.zeros([0], np.float32))  # noqa: E731
    x = "input"
    x = b.op("Conv", [x, b.weight("conv1_w", [4, 1, 3, 3], 9), b.bias("conv1_b", 4)],
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])       # [1,4,14,14]
    x = b.op("Relu", [x])
    # ConvTranspose 4->6, k3, stride 2, pads 1, output_padding 1 -> [1,6,28,28]
    x = b.op("ConvTranspose", [x, b.weight("deconv_w", [4, 6, 3, 3], 36), b.bias("deconv_b", 6)],
             kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    x = b.op("Relu", [x])
    # Resize-11 nearest, asymmetric/floor, by scales (roi empty, no sizes): 28 -> 14
    x = b.op("Resize", [x, empty_f(), b.const("scales_half", np.array([1, 1, 0.5, 0.5], np.float32))],
             mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    # Resize-11 linear, half_pixel, by scales: 14 -> 21
    x = b.op("Resize", [x, empty_f(), b.const("scales_1_5", np.array([1, 1, 1.5, 1.5], np.float32))],
             mode="linear", coordinate_transformation_mode="half_pixel")
    # Resize-11 linear, align_corners, by sizes (scales empty): 21 -> 20
    x = b.op("Resize", [x, empty_f(), empty_f(), b.const("sizes_20", np.array([1, 6, 20, 20], np.int64))],
             mode="linear", coordinate_transformation_mode="align_corners")
    x = b.op("Conv", [x, b.weight("conv2_w", [2, 6, 3, 3], 54), b.bias("conv2_b", 2)],
             kernel_shape=[3, 3], strides=[1, 1])                            # [1,2,18,18], no pads attr
    # Slice-10/11: starts, ends, axes, steps as inputs; a negative end and a step of 2
    x = b.op("Slice", [x,
                       b.const("slice_starts", np.array([1, 0], np.int64)),
                       b.const("slice_ends", np.array([-1, 100], np.int64)),
                       b.const("slice_axes", np.array([2, 3], np.int64)),
                       b.const("slice_steps", np.array([1, 2], np.int64))])  # [1,2,16,9]
    # Pad-11: pads and constant_value as inputs
    x = b.op("Pad", [x, b.const("pads", np.array([0, 0, 1, 2, 0, 0, 1, 1], np.int64)),
                     b.const("pad_value", np.array(0.25, np.float32))], mode="constant")  # [1,2,18,12]
    return finish(b, "opset11_resize_convtranspose", 11, x, [1, 2, 18, 12],
                  "Opset-11 graph, all weights in Constant nodes: Conv, ConvTranspose (stride 2, "
                  "pads + output_padding), Resize nearest/asymmetric/floor (scales), Resize linear "
                  "half_pixel (scales), Resize linear align_corners (sizes), Slice with inputs "
                  "(negative end, step 2), Pad with inputs.")


# --------------------------------------------------------------------------- model 3: opset 13
def make_opset13():
    b = Builder(seed=13, weights_as_constants=False)
    i64 = lambda v: np.array(v, np.int64)  # noqa: E731
    x = b.op("Reshape", ["input", b.const("shape_tokens", i64([1, 28, 28]))])       # [1,28,28]
    qkv = b.op("MatMul", [x, b.weight("w_qkv", [28, 48], 28, gain=1.0)])          # [1,28,48]
    q, k, v = b.op("Split", [qkv, b.const("split_sizes", i64([16, 16, 16]))], n_outputs=3, axis=2)
    heads = b.const("shape_heads", i64([1, 28, 2, 8]))
    q = b.op("Transpose", [b.op("Reshape", [q, heads])], perm=[0, 2, 1, 3])       # [1,2,28,8]
    kt = b.op("Transpose", [b.op("Reshape", [k, heads])], perm=[0, 2, 3, 1])      # [1,2,8,28]
    vh = b.op("Transpose", [b.op("Reshape", [v, heads])], perm=[0, 2, 1, 3])      # [1,2,28,8]
    att = b.op("MatMul", [q, kt])                                                 # [1,2,28,28]
    att = b.op("Mul", [att, b.const("scale", np.array(8 ** -0.5, np.float32))])
    att = b.op("Softmax", [att], axis=-1)
    o = b.op("MatMul", [att, vh])                                                 # [1,2,28,8]
    # MatMul with broadcast batch dims: [1,2,28,8] x [2,8,8] -> [1,2,28,8]
    o = b.op("MatMul", [o, b.weight("w_head", [2, 8, 8], 8, gain=1.0)])
    o = b.op("Transpose", [o], perm=[0, 2, 1, 3])                                 # [1,28,2,8]
    o = b.op("Reshape", [o, b.const("shape_merge", i64([1, 28, 16]))])            # [1,28,16]
    lv = b.op("LeakyRelu", [v], alpha=0.1)                                        # [1,28,16]
    x = b.op("Concat", [o, lv], axis=-1)                                          # [1,28,32]
    x = b.op("PRelu", [x, b.const("prelu_slope", b.rng.uniform(0.0, 0.5, [32]).astype(np.float32))])
    x = b.op("ReduceMean", [x], axes=[1], keepdims=0)                             # [1,32]
    x = b.op("Gather", [x, b.const("row0", np.array(0, np.int64))], axis=0)       # scalar index -> [32]
    x = b.op("Gather", [x, b.const("pick", i64(list(range(0, 32, 2)) + [-1, -3, 5, 7]))], axis=0)  # [20]
    x = b.op("MatMul", [x, b.weight("w_out", [20, 10], 20, gain=1.0)])            # 1-D x 2-D -> [10]
    x = b.op("Add", [x, b.bias("b_out", 10)])
    x = b.op("Reshape", [x, b.const("shape_out", i64([1, 10]))])                  # [1,10]
    return finish(b, "opset13_mixed", 13, x, [1, 10],
                  "Opset-13 attention-like graph with initializers: Reshape, MatMul (2-D, 4-D, "
                  "broadcast batch dims, 1-D x 2-D), Split (split input), Transpose, Softmax(axis=-1), "
                  "LeakyRelu, Concat, PRelu, ReduceMean (axes attribute), Gather (scalar and 1-D "
                  "indices, negative indices), Add.")


# --------------------------------------------------------------------------- reference evaluator
def _t(a):
    return torch.from_numpy(np.array(a, copy=True))


def _resize(x, node, opset, inputs):
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    mode = attrs.get("mode", b"nearest").decode()
    ctm = attrs.get("coordinate_transformation_mode", b"half_pixel").decode()
    nearest_mode = attrs.get("nearest_mode", b"round_prefer_floor").decode()
    if node.op_type == "Upsample":
        scales = inputs[1]
        sizes = None
        ctm, nearest_mode = "asymmetric", "floor"   # Upsample semantics
    else:
        scales = inputs[2] if len(inputs) > 2 and inputs[2] is not None and inputs[2].size else None
        sizes = inputs[3] if len(inputs) > 3 and inputs[3] is not None and inputs[3].size else None
    in_hw = np.array(x.shape[2:])
    if sizes is not None:
        out_hw = np.array(sizes[2:], np.int64)
        sc = out_hw / in_hw
    else:
        sc = np.array(scales[2:], np.float64)
        out_hw = np.floor(in_hw * sc).astype(np.int64)
    assert np.all(np.array(scales[:2] if sizes is None else np.array(sizes[:2]) / x.shape[:2]) == 1)
    # direct, per-axis implementation of the spec's coordinate transforms (1-D separable)
    out = x.astype(np.float64)
    for axis in (2, 3):
        n_in, n_out, s = int(in_hw[axis - 2]), int(out_hw[axis - 2]), float(sc[axis - 2])
        o = np.arange(n_out, dtype=np.float64)
        if ctm == "asymmetric":
            src = o / s
        elif ctm == "half_pixel":
            src = (o + 0.5) / s - 0.5
        elif ctm == "align_corners":
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(o)
        else:
            raise NotImplementedError(ctm)
        if mode == "nearest":
            if nearest_mode == "floor":
                idx = np.floor(src)
            elif nearest_mode == "round_prefer_floor":
                idx = np.ceil(src - 0.5)
            else:
                raise NotImplementedError(nearest_mode)
            idx = np.clip(idx, 0, n_in - 1).astype(np.int64)
            out = np.take(out, idx, axis=axis)
        elif mode == "linear":
            src = np.clip(src, 0, n_in - 1)
            lo = np.floor(src).astype(np.int64)
            hi = np.minimum(lo + 1, n_in - 1)
            w = src - lo
            shape = [1, 1, 1, 1]
            shape[axis] = n_out
            w = w.reshape(shape)
            out = np.take(out, lo, axis=axis) * (1 - w) + np.take(out, hi, axis=axis) * w
        else:
            raise NotImplementedError(mode)
    return out.astype(np.float32)


def run_reference(model, feed):
    """Evaluate the (small, static) graph node by node with the semantics of its opset."""
    opset = model.opset_import[0].version
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env.update(feed)
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            out = [numpy_helper.to_array(attrs["value"])]
        elif op == "Conv":
            pads = attrs.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3]
            out = [F.conv2d(_t(ins[0]), _t(ins[1]), _t(ins[2]) if len(ins) > 2 else None,
                            stride=attrs.get("strides", [1, 1]), padding=pads[:2],
                            groups=attrs.get("group", 1)).numpy()]
        elif op == "ConvTranspose":
            pads = attrs.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3]
            out = [F.conv_transpose2d(_t(ins[0]), _t(ins[1]), _t(ins[2]) if len(ins) > 2 else None,
                                      stride=attrs.get("strides", [1, 1]), padding=pads[:2],
                                      output_padding=attrs.get("output_padding", [0, 0]),
                                      groups=attrs.get("group", 1)).numpy()]
        elif op == "BatchNormalization":
            x, s, bb, m, var = ins
            eps = attrs.get("epsilon", 1e-5)
            sh = [1, -1, 1, 1]
            out = [((x - m.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * s.reshape(sh)
                    + bb.reshape(sh)).astype(np.float32)]
        elif op == "Relu":
            out = [np.maximum(ins[0], 0)]
        elif op == "LeakyRelu":
            a = attrs.get("alpha", 0.01)
            out = [np.where(ins[0] >= 0, ins[0], ins[0] * np.float32(a)).astype(np.float32)]
        elif op == "PRelu":
            out = [np.where(ins[0] >= 0, ins[0], ins[0] * ins[1]).astype(np.float32)]
        elif op == "MaxPool":
            assert attrs.get("pads", [0, 0, 0, 0]) == [0, 0, 0, 0]
            out = [F.max_pool2d(_t(ins[0]), attrs["kernel_shape"], attrs.get("strides", [1, 1])).numpy()]
        elif op in ("Upsample", "Resize"):
            out = [_resize(ins[0], node, opset, ins)]
        elif op == "Clip":
            if opset < 11:
                lo, hi = attrs.get("min", -3.4028234663852886e38), attrs.get("max", 3.4028234663852886e38)
            else:
                lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
                hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
            out = [np.clip(ins[0], lo, hi).astype(np.float32)]
        elif op == "Flatten":
            axis = attrs.get("axis", 1)
            sh = ins[0].shape
            out = [ins[0].reshape(int(np.prod(sh[:axis])), -1)]
        elif op == "Reshape":
            shape = [ins[0].shape[i] if d == 0 else d for i, d in enumerate(ins[1].tolist())]
            out = [ins[0].reshape(shape)]
        elif op == "Gemm":
            a, bm = ins[0], ins[1]
            if attrs.get("transA", 0):
                a = a.T
            if attrs.get("transB", 0):
                bm = bm.T
            y = np.float32(attrs.get("alpha", 1.0)) * (a @ bm)
            if len(ins) > 2:
                y = y + np.float32(attrs.get("beta", 1.0)) * ins[2]
            out = [y.astype(np.float32)]
        elif op == "Unsqueeze":
            assert opset < 13
            y = ins[0]
            for ax in sorted(attrs["axes"]):
                y = np.expand_dims(y, ax)
            out = [y]
        elif op == "Squeeze":
            assert opset < 13
            out = [np.squeeze(ins[0], axis=tuple(attrs["axes"]))]
        elif op == "Softmax":
            axis = attrs.get("axis", 1 if opset < 13 else -1)
            x = ins[0]
            if opset < 13:   # coerce to 2-D [prod(d[:axis]), prod(d[axis:])], softmax over dim 1
                sh = x.shape
                axis = axis % x.ndim
                x2 = x.reshape(int(np.prod(sh[:axis])), -1)
                out = [torch.softmax(_t(x2), 1).numpy().reshape(sh)]
            else:
                out = [torch.softmax(_t(x), axis).numpy()]
        elif op == "Slice":
            x = ins[0]
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 else np.ones(len(starts), np.int64)
            sl = [slice(None)] * x.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                sl[int(a)] = slice(int(s), int(e), int(st))   # python slicing clamps like the spec
            out = [x[tuple(sl)]]
        elif op == "Pad":
            pads = ins[1].reshape(2, -1).T
            value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
            assert attrs.get("mode", b"constant") == b"constant"
            out = [np.pad(ins[0], pads, mode="constant", constant_values=value)]
        elif op == "MatMul":
            out = [np.matmul(ins[0], ins[1]).astype(np.float32)]
        elif op == "Split":
            axis = attrs.get("axis", 0)
            sizes = ins[1] if len(ins) > 1 else attrs["split"]
            out = np.split(ins[0], np.cumsum(sizes)[:-1], axis=axis)
        elif op == "Transpose":
            out = [np.transpose(ins[0], attrs["perm"])]
        elif op == "Mul":
            out = [(ins[0] * ins[1]).astype(np.float32)]
        elif op == "Add":
            out = [(ins[0] + ins[1]).astype(np.float32)]
        elif op == "Concat":
            out = [np.concatenate(ins, axis=attrs["axis"])]
        elif op == "ReduceMean":
            out = [np.mean(ins[0], axis=tuple(attrs["axes"]), keepdims=bool(attrs.get("keepdims", 1)),
                           dtype=np.float64).astype(np.float32)]
        elif op == "Gather":
            out = [np.take(ins[0], ins[1], axis=attrs.get("axis", 0))]
        else:
            raise NotImplementedError(op)
        for name, value in zip(node.output, out):
            env[name] = np.asarray(value, dtype=value.dtype)
    return env["output"]


# --------------------------------------------------------------------------- main
def main():
    builders = [("opset9_constants", make_opset9),
                ("opset11_resize_convtranspose", make_opset11),
                ("opset13_mixed", make_opset13)]
    for name, make in builders:
        model = make()
        path = os.path.join(HERE, name + ".onnx")
        onnx.save(model, path)
        x = np.random.default_rng(100).uniform(0.0, 1.0, INPUT_SHAPE).astype(np.float32)
        y = run_reference(model, {"input": x})
        expected = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
        assert list(y.shape) == expected, (name, y.shape, expected)
        assert np.all(np.isfinite(y))
        with open(os.path.join(HERE, name + ".input.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "input").SerializeToString())
        with open(os.path.join(HERE, name + ".output.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y.astype(np.float32), "output").SerializeToString())
        hist = collections.Counter(n.op_type for n in model.graph.node)
        print("%s: opset %d, %d bytes, %d nodes, %d initializers, output %s" % (
            name + ".onnx", model.opset_import[0].version, os.path.getsize(path), len(model.graph.node),
            len(model.graph.initializer), list(y.shape)))
        print("  ops: " + ", ".join("%s=%d" % kv for kv in sorted(hist.items())))
        print("  output[:6]: " + np.array2string(y.ravel()[:6], precision=5))


if __name__ == "__main__":
    main()

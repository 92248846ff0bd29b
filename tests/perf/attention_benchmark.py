#!/usr/bin/env python3
"""One decoder step's attention against a key/value cache, as exporters write it, timed on
cpu-onednn against ONNX Runtime (onnxruntime-node), fp32, batch 1, in one run so the ratios
compare. A benchmark, not a test: it prints a table and writes JSON.

  scores = q K^T * 1/sqrt(D) -> Softmax -> x V, one query per head against T cached positions.

Two cache layouts: "heads-first", [B, H, T, D] (Hugging Face Optimum's past_key_values: K^T is
Transpose(0,1,3,2)), and "tokens-first", [B, T, H, D] (a projection reshaped: K^T is
Transpose(0,2,3,1), V is Transpose(0,2,1,3)). The Transposes are what a decoder step copies
unless the MatMuls read them in place.

usage: tests/perf/attention_benchmark.py [--heads 32] [--dim 128] [--cached 256,1024]
                                         [--threads 1,2] [--min-seconds 1] [--out FILE.json]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from zoo_benchmark import measure  # noqa: E402


def attention_model(layout, heads, dim, cached):
    cache = [None, heads, cached, dim] if layout == "heads-first" else [None, cached, heads, dim]
    def value(name, dims):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch"] + dims[1:])
    k_perm = [0, 1, 3, 2] if layout == "heads-first" else [0, 2, 3, 1]
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=k_perm),
             helper.make_node("MatMul", ["q", "kt"], ["scores"]),
             helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
             helper.make_node("Softmax", ["scaled"], ["p"], axis=-1)]
    v = "v"
    if layout == "tokens-first":
        nodes.append(helper.make_node("Transpose", ["v"], ["vh"], perm=[0, 2, 1, 3]))
        v = "vh"
    nodes.append(helper.make_node("MatMul", ["p", v], ["y"]))
    graph = helper.make_graph(
        nodes, f"attention_{layout}", [value("q", [None, heads, 1, dim]), value("k", cache), value("v", cache)],
        [value("y", [None, heads, 1, dim])],
        [helper.make_tensor("scale", TensorProto.FLOAT, [], [1.0 / math.sqrt(dim)])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--cached", default="256,1024")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-seconds", default="1")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "attention-benchmark.json"))
    args = p.parse_args()
    rows = []
    print(f"{'layout':<13} {'heads':>5} {'dim':>4} {'cached':>6} {'thr':>3} {'quantscope ms':>13} {'ort ms':>8} "
          f"{'ratio':>6}  isa", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("heads-first", "tokens-first"):
            for cached in [int(c) for c in args.cached.split(",")]:
                model = os.path.join(tmp, f"{layout}-{cached}.onnx")
                onnx.save(attention_model(layout, args.heads, args.dim, cached), model)
                for threads in args.threads.split(","):
                    ours, _ = measure([args.cli, "bench", model, "--device", "cpu-onednn", "--batch", "1",
                                       "--threads", threads, "--runs", "50", "--min-seconds", args.min_seconds,
                                       "--json"])
                    ort, _ = measure(["node", os.path.join(HERE, "ort_bench.mjs"), model, "1", threads, "50",
                                      args.min_seconds])
                    ours = json.loads(ours)
                    ort = json.loads(ort.strip().splitlines()[-1])
                    ratio = ours["median_ms"] / ort["median_ms"]
                    rows.append({"layout": layout, "heads": args.heads, "dim": args.dim, "cached": cached,
                                 "threads": int(threads), "quantscope_ms": ours["median_ms"],
                                 "quantscope_cv": ours["cv"], "ort_ms": ort["median_ms"], "ort_cv": ort["cv"],
                                 "ratio": ratio, "isa": ours.get("isa", "")})
                    print(f"{layout:<13} {args.heads:5d} {args.dim:4d} {cached:6d} {threads:>3} "
                          f"{ours['median_ms']:13.3f} {ort['median_ms']:8.3f} {ratio:6.2f}  {rows[-1]['isa']}",
                          flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"worst ratio {worst['ratio']:.2f} ({worst['layout']}, {worst['cached']} cached, "
          f"{worst['threads']} threads); written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Decode speed of the bundled decoder with weight-only low-bit weights on cpu-onednn, against
its own fp32, in one run: every linear layer (and the LM head) at W bits in groups of G, packed
and widened in registers (plugins/cpu-onednn/lowbit_matmul.h) on decode steps.

For each round the configurations run one after the other (`bench --prompt-tokens P --decode N
--json`); the table gives the median over rounds of each one's median decode step, the sum of
the nodes' medians in a profiled step (steadier on a shared machine), and each one's ratio to
fp32. Also the ISA the packed kernel used.

A benchmark, not a test: prints a table and writes JSON (default
build/decoder-lowbit-benchmark.json).

usage: tests/perf/decoder_lowbit_benchmark.py [--bits 4,3,8] [--groups 32,128] [--rounds 3]
         [--prompt 64] [--decode 64] [--threads 0]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DECODER = os.path.join(ROOT, "resources", "models", "decoder")


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--bits", default="4,3,8")
    p.add_argument("--groups", default="32,128")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "decoder-lowbit-benchmark.json"))
    args = p.parse_args()
    model = os.path.join(DECODER, "decoder.onnx")
    with tempfile.TemporaryDirectory(prefix="qs_lowbit_bench_") as d:
        configs = [("fp32", None)]
        for g in args.groups.split(","):
            for b in args.bits.split(","):
                path = os.path.join(d, f"w{b}g{g}.json")
                run([args.cli, "quantize", model, "--data", "text:" + os.path.join(DECODER, "test.txt"),
                     "--limit", "2", "--weights", b, "--acts", "float", "--granularity",
                     f"group:{g}", "-o", path])
                configs.append((f"w{b} g{g}", path))
        samples = {name: {"decode": [], "nodes": []} for name, _ in configs}
        env = {}
        for _ in range(args.rounds):
            for name, path in configs:
                cmd = [args.cli, "bench", model, "--device", "cpu-onednn", "--prompt-tokens",
                       str(args.prompt), "--decode", str(args.decode), "--runs", "3",
                       "--per-layer", "--json"]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                if path:
                    cmd += ["--config", path]
                j = json.loads(run(cmd))
                env = j.get("environment", env)
                layers = j["decode_layers"]
                layers = layers["layers"] if isinstance(layers, dict) else layers
                samples[name]["decode"].append(j["decode"]["median_ms"])
                samples[name]["nodes"].append(sum(l.get("median_ms", 0) for l in layers))
                samples[name]["packed"] = sum("packed" in l.get("op", "") for l in layers)
    rows = []
    for name, _ in configs:
        s = samples[name]
        rows.append({"config": name, "decode_ms": statistics.median(s["decode"]),
                     "nodes_ms": statistics.median(s["nodes"]), "packed_layers": s["packed"]})
    base = rows[0]
    print(f"{'config':10} {'decode ms':>9} {'tokens/s':>9} {'x fp32':>7} {'nodes ms':>9} "
          f"{'x fp32':>7} {'packed':>6}")
    for r in rows:
        r["speedup"] = base["decode_ms"] / r["decode_ms"]
        r["nodes_speedup"] = base["nodes_ms"] / r["nodes_ms"]
        print(f"{r['config']:10} {r['decode_ms']:9.3f} {1000 / r['decode_ms']:9.1f} "
              f"{r['speedup']:7.2f} {r['nodes_ms']:9.3f} {r['nodes_speedup']:7.2f} "
              f"{r['packed_layers']:6d}")
    print(f"prompt {args.prompt}, {args.decode} decode steps, {args.rounds} rounds; "
          f"isa {env.get('isa', '?')}, threads {env.get('threads', '?')}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"model": model, "prompt": args.prompt, "decode": args.decode,
                   "rounds": args.rounds, "environment": env, "rows": rows}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

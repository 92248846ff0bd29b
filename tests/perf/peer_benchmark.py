#!/usr/bin/env python3
"""Quantscope (`quantscope-cli bench`) against ONNX Runtime (onnxruntime-node) on the bundled
models: same model, batch and thread count, timed in one run so the ratios are comparable.
A benchmark, not a test: it prints a table of time ratios and writes JSON.

usage: tests/perf/peer_benchmark.py [--device cpu-onednn] [--batches 1,64] [--threads 1,2]
                                    [--runs 50] [--min-seconds 1] [--int8] [--out FILE.json]
ratio = Quantscope median / ONNX Runtime median (below 1.0: Quantscope is faster).
--int8: the classifiers quantized W8A8 (calibrated on 1000 training images): Quantscope's real
int8 kernels (bench --config --real) against ONNX Runtime running the exported QDQ model, which
it fuses into its own integer kernels.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--device", default="cpu-onednn")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", default="50")
    p.add_argument("--min-seconds", default="1")
    p.add_argument("--models", default=os.path.join(ROOT, "resources", "models"))
    p.add_argument("--int8", action="store_true")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.out is None:
        args.out = os.path.join(ROOT, "build", "peer-benchmark-int8.json" if args.int8 else "peer-benchmark.json")
    work = tempfile.mkdtemp(prefix="qs_peer_bench_")

    with open(os.path.join(args.models, "models.json")) as f:
        models = json.load(f)["models"]
    rows = []
    print(f"{'model':<12} {'batch':>5} {'thr':>3} {'quantscope ms':>14} {'cv':>6} {'ort ms':>10} {'cv':>6} {'ratio':>7}  isa")
    for key, entry in models.items():
        path = os.path.join(args.models, entry["file"])
        ours_extra, ort_model = [], path
        if args.int8:
            if entry["task"] != "classification":
                continue
            config, pkg = os.path.join(work, f"{key}.json"), os.path.join(work, key)
            subprocess.run([args.cli, "quantize", path, "--data", "fashion-mnist:train", "--limit", "1000", "-o", config],
                           check=True, capture_output=True)
            subprocess.run([args.cli, "export", path, "--config", config, "-o", pkg], check=True, capture_output=True)
            ours_extra, ort_model = ["--config", config, "--real"], os.path.join(pkg, "model.onnx")
        for batch in args.batches.split(","):
            for threads in args.threads.split(","):
                ours = json.loads(subprocess.run(
                    [args.cli, "bench", path, "--device", args.device, "--batch", batch, "--threads", threads,
                     "--runs", args.runs, "--min-seconds", args.min_seconds, "--json", *ours_extra],
                    check=True, capture_output=True, text=True).stdout)
                theirs = json.loads(subprocess.run(
                    ["node", os.path.join(HERE, "ort_bench.mjs"), ort_model, batch, threads, args.runs, args.min_seconds],
                    check=True, capture_output=True, text=True).stdout)
                ratio = ours["median_ms"] / theirs["median_ms"]
                rows.append({"model": key, "batch": int(batch), "threads": int(threads), "quantscope": ours,
                             "onnxruntime": theirs, "ratio": ratio})
                flag = " (noisy)" if ours["cv"] > 0.05 or theirs["cv"] > 0.05 else ""
                print(f"{key:<12} {batch:>5} {threads:>3} {ours['median_ms']:>14.4f} {ours['cv']:>6.1%} "
                      f"{theirs['median_ms']:>10.4f} {theirs['cv']:>6.1%} {ratio:>7.2f}  {ours['isa']}{flag}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"device": args.device, "int8": args.int8, "rows": rows}, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nwritten: {args.out}")
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.2f} ({'meets' if worst <= 1.0 else 'misses'} the target ratio <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

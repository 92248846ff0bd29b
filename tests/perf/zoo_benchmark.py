#!/usr/bin/env python3
"""The foreign-model zoo (tests/models/make_zoo.py) timed on cpu-onednn against ONNX Runtime
(onnxruntime-node), fp32, same model, batch and thread count, in one run so the ratios compare.
A benchmark, not a test: it prints a table and writes JSON.

usage: tests/perf/zoo_benchmark.py [--batches 1,8] [--threads 1,2] [--only NAMES]
                                   [--min-seconds 1] [--out FILE.json]
ratio = Quantscope median / ONNX Runtime median (below 1.0: Quantscope is faster). Peak memory
is each process's maximum resident set (ru_maxrss), the whole `bench` or ORT process. A model
exported with a fixed batch runs at that batch only. Nodes on cpu-ref: steps of the plan that
ran on the reference kernels (bench --per-layer, from `info`'s placement).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
import make_zoo  # noqa: E402


def measure(cmd):
    """Runs a command; returns (stdout, its peak RSS in MB). os.wait4 reaps the child itself to
    get its own resource usage."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {err.strip()[-500:]}")
    return out, usage.ru_maxrss / 1024.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--zoo", default=make_zoo.default_dir())
    p.add_argument("--batches", default="1,8")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--only", default="")
    p.add_argument("--min-seconds", default="1")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "zoo-benchmark.json"))
    args = p.parse_args()
    names = [n for n in args.only.split(",") if n] or [e[0] for e in make_zoo.ZOO]
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "models", "make_zoo.py"), "--out", args.zoo,
                    "--only", ",".join(names)], check=True, stdout=subprocess.DEVNULL)
    recipes = {e[0]: e for e in make_zoo.ZOO}
    rows = []
    print(f"{'model':<20} {'opset':>5} {'batch':>5} {'thr':>3} {'quantscope ms':>13} {'ort ms':>9} {'ratio':>6} "
          f"{'on cpu-ref':>10} {'qs MB':>7} {'ort MB':>7}  isa", flush=True)
    for name in names:
        model = os.path.join(args.zoo, name + ".onnx")
        _, _, opset, dynamic, _, _ = recipes[name]
        info = json.loads(subprocess.run([args.cli, "info", model, "--device", "cpu-onednn", "--json"],
                                         check=True, capture_output=True, text=True).stdout)
        on_ref = [f"{l['name']} ({l.get('fallback_reason', '')})" for l in info["layers"] if l["device"] != "cpu-onednn"]
        for batch in (args.batches.split(",") if dynamic else ["1"]):
            for threads in args.threads.split(","):
                try:
                    ours_out, ours_mb = measure([args.cli, "bench", model, "--device", "cpu-onednn",
                                                       "--batch", batch, "--threads", threads, "--runs", "10",
                                                       "--min-seconds", args.min_seconds, "--json"])
                    ort_out, ort_mb = measure(["node", os.path.join(ROOT, "tests", "perf", "ort_bench.mjs"),
                                                     model, batch, threads, "10", args.min_seconds])
                except RuntimeError as err:
                    print(f"{name:<20} FAILED: {err}", flush=True)
                    rows.append({"model": name, "batch": int(batch), "threads": int(threads), "error": str(err)})
                    continue
                ours = json.loads(ours_out)
                ort = json.loads(ort_out.strip().splitlines()[-1])
                ratio = ours["median_ms"] / ort["median_ms"]
                row = {"model": name, "opset": opset, "dynamic_batch": dynamic, "batch": int(batch),
                       "threads": int(threads), "quantscope_ms": ours["median_ms"], "quantscope_cv": ours["cv"],
                       "ort_ms": ort["median_ms"], "ort_cv": ort["cv"], "ratio": ratio,
                       "nodes": len(info["layers"]), "nodes_on_cpu_ref": len(on_ref),
                       "cpu_ref_nodes": on_ref[:20], "quantscope_peak_mb": ours_mb, "ort_peak_mb": ort_mb,
                       "isa": ours.get("isa", "")}
                rows.append(row)
                print(f"{name:<20} {opset:5d} {batch:>5} {threads:>3} {ours['median_ms']:13.2f} {ort['median_ms']:9.2f} "
                      f"{ratio:6.2f} {len(on_ref):10d} {ours_mb:7.0f} {ort_mb:7.0f}  {row['isa']}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    ok = [r for r in rows if "ratio" in r]
    if ok:
        worst = max(ok, key=lambda r: r["ratio"])
        print(f"worst ratio {worst['ratio']:.2f} ({worst['model']}, batch {worst['batch']}, {worst['threads']} threads); "
              f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

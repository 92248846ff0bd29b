#!/usr/bin/env python3
"""Post-training quantization on the bundled models: the accuracy targets of the PTQ issue,
measured in one run on the full Fashion-MNIST test set, with calibration on the first N
training images. A benchmark, not a test: it prints a table and writes JSON.

  W8A8 per-channel (every calibrator)   top-1 against fp32 (target: within 0.3 points)
  W4 weight-only, GPTQ and RTN           top-1 against fp32 (target for GPTQ: within 1 point)
  W3 weight-only, GPTQ and RTN           GPTQ must beat RTN
  --speed: real int8 against fp32 on cpu-onednn at batch 64 (bench, same run; ratio < 1)

The PyTorch peer's W8A8 numbers come from tests/perf/torch_ptq.py (run it beside this).

usage: tests/perf/ptq_benchmark.py [--cli build/bin/quantscope-cli] [--calib 1000]
                                   [--models lenet,mobilenet,vit] [--speed] [--out FILE.json]
"""
import argparse
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

CONFIGS = [
    ("w8a8 minmax", ["--calib", "minmax"]),
    ("w8a8 percentile", ["--calib", "percentile:99.99"]),
    ("w8a8 mse", ["--calib", "mse"]),
    ("w8a8 entropy", ["--calib", "entropy"]),
    ("w4 rtn", ["--weights", "4", "--acts", "float", "--rounding", "rtn"]),
    ("w4 gptq", ["--weights", "4", "--acts", "float", "--rounding", "gptq"]),
    ("w3 rtn", ["--weights", "3", "--acts", "float", "--rounding", "rtn"]),
    ("w3 gptq", ["--weights", "3", "--acts", "float", "--rounding", "gptq"]),
]


def cli(args, *rest):
    p = subprocess.run([args.cli, *rest], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"quantscope-cli {' '.join(rest)}: {p.stderr.strip()}")
    return json.loads(p.stdout) if "--json" in rest else p.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--device", default="cpu-onednn")
    p.add_argument("--calib", default="1000")
    p.add_argument("--models", default="lenet,mobilenet,vit")
    p.add_argument("--speed", action="store_true")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "ptq-benchmark.json"))
    args = p.parse_args()
    rows = []
    tmp = tempfile.mkdtemp(prefix="qs_ptq_")
    print(f"{'model':<10} {'config':<16} {'fp32':>7} {'top-1':>7} {'delta':>7} {'agree':>7} {'sqnr dB':>8} {'size %':>7}")
    for model in args.models.split(","):
        path = os.path.join(ROOT, "resources", "models", model + ".onnx")
        for name, extra in CONFIGS:
            cfg = os.path.join(tmp, f"{model}-{name.replace(' ', '_')}.json")
            cli(args, "quantize", path, "--data", "fashion-mnist:train", "--limit", args.calib,
                "--device", args.device, "-o", cfg, *extra, "--json")
            j = cli(args, "eval", path, "--config", cfg, "--data", "fashion-mnist:test",
                    "--device", args.device, "--json")
            row = {"model": model, "config": name, "args": extra, "fp32_top1": j["fp32_top1"],
                   "top1": j["top1"], "agreement": j["agreement"], "kl": j["kl"],
                   "sqnr_db": j["sqnr_db"], "size_bytes": j["size_bytes"],
                   "fp32_size_bytes": j["fp32_size_bytes"]}
            rows.append(row)
            print(f"{model:<10} {name:<16} {j['fp32_top1']:7.2f} {j['top1']:7.2f} "
                  f"{j['top1'] - j['fp32_top1']:+7.2f} {j['agreement']:7.2f} {j['sqnr_db']:8.2f} "
                  f"{100.0 * j['size_bytes'] / j['fp32_size_bytes']:7.1f}", flush=True)
    speed = []
    if args.speed:
        print(f"\n{'model':<10} {'fp32 ms':>9} {'int8 ms':>9} {'ratio':>7}  isa   (batch 64, cpu-onednn)")
        for model in args.models.split(","):
            path = os.path.join(ROOT, "resources", "models", model + ".onnx")
            cfg = os.path.join(tmp, f"{model}-w8a8_mse.json")
            bench = ["--device", "cpu-onednn", "--batch", "64", "--runs", "50", "--min-seconds", "2", "--json"]
            f = cli(args, "bench", path, *bench)
            q = cli(args, "bench", path, "--config", cfg, "--real", *bench)
            speed.append({"model": model, "fp32": f, "int8": q, "ratio": q["median_ms"] / f["median_ms"]})
            print(f"{model:<10} {f['median_ms']:9.3f} {q['median_ms']:9.3f} {q['median_ms'] / f['median_ms']:7.2f}  {q['isa']}")
    with open(args.out, "w") as fh:
        json.dump({"calibration_images": int(args.calib), "rows": rows, "speed": speed}, fh, indent=1)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Weight-only quantization of the bundled decoder (resources/models/decoder), in one run:

  quality   for each group size, width and rounding (RTN, GPTQ): `quantize --data
            text:` calibrated on the first chapters of the test split, `eval --config` on the
            other chapters; perplexity, PPL ratio, mean KL divergence of the next-token
            distributions, the share of tokens where both rank the same token first
  GPTQ time one 4096 x 4096 MatMul (a 7B model's projection) quantized with GPTQ at 4 bits,
            groups of 128, on random calibration rows: the wall time of `quantize`

A benchmark, not a test: prints a table and writes JSON (default
build/decoder-quant-benchmark.json). The chapters the model is scored on are not those it
was calibrated on.

Groups of 128 divide neither the decoder's 320 inputs nor its MLP's 864: the last group of a
row holds 64 or 96.

usage: tests/perf/decoder_quant_benchmark.py [--bits 8,4,3,2] [--groups 32,128]
         [--calibration-chapters 20] [--windows 8] [--eval-windows -1] [--skip-gptq-time]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DECODER = os.path.join(ROOT, "resources", "models", "decoder")


def run(cmd):
    """Runs cmd; returns (stdout, seconds); exits with its stderr when it fails."""
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout, time.monotonic() - start


def gptq_4096_seconds(cli, device, d):
    """Wall time of quantizing one 4096 x 4096 MatMul with GPTQ (the model made with onnx)."""
    try:
        import numpy
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    n = 4096
    rng = numpy.random.default_rng(1)
    w = (rng.standard_normal((n, n)) / numpy.sqrt(n)).astype(numpy.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")], "proj",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])],
        [numpy_helper.from_array(w, "w")])
    model = os.path.join(d, "proj4096.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    rows = os.path.join(d, "rows.npy")
    numpy.save(rows, rng.standard_normal((512, n)).astype(numpy.float32))
    _, seconds = run([cli, "quantize", model, "--device", device, "--data", "npy:" + rows,
                      "--weights", "4", "--acts", "float", "--granularity", "group:128",
                      "--rounding", "gptq", "-o", os.path.join(d, "proj.json")])
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--device", default="cpu-onednn")
    p.add_argument("--bits", default="8,4,3,2")
    p.add_argument("--groups", default="32,128")
    p.add_argument("--calibration-chapters", type=int, default=20)
    p.add_argument("--windows", type=int, default=8, help="calibration windows of 256 tokens")
    p.add_argument("--eval-windows", type=int, default=-1, help="-1: every window")
    p.add_argument("--skip-gptq-time", action="store_true")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "decoder-quant-benchmark.json"))
    args = p.parse_args()
    model = os.path.join(DECODER, "decoder.onnx")
    tokenizer = os.path.join(DECODER, "tokenizer.model")
    result = {"model": model, "device": args.device, "rows": []}
    with tempfile.TemporaryDirectory(prefix="qs_quant_bench_") as d:
        with open(os.path.join(DECODER, "test.txt"), encoding="utf-8") as f:
            chapters = [line for line in f if line.strip()]
        calibration, evaluation = os.path.join(d, "calib.txt"), os.path.join(d, "eval.txt")
        with open(calibration, "w", encoding="utf-8") as f:
            f.writelines(chapters[:args.calibration_chapters])
        with open(evaluation, "w", encoding="utf-8") as f:
            f.writelines(chapters[args.calibration_chapters:])
        result["calibration"] = f"{args.calibration_chapters} chapters, {args.windows} windows"
        widths = [(g, b) for g in args.groups.split(",") for b in args.bits.split(",")]
        for group, bits in ((int(g), int(b)) for g, b in widths):
            for rounding in ("rtn", "gptq"):
                config = os.path.join(d, f"w{bits}-g{group}-{rounding}.json")
                _, seconds = run([args.cli, "quantize", model, "--device", args.device,
                                  "--data", "text:" + calibration, "--tokenizer", tokenizer,
                                  "--limit", str(args.windows), "--weights", str(bits),
                                  "--acts", "float", "--granularity", f"group:{group}",
                                  "--rounding", rounding, "-o", config])
                cmd = [args.cli, "eval", model, "--device", args.device, "--json", "--data",
                       "text:" + evaluation, "--tokenizer", tokenizer, "--config", config]
                if args.eval_windows >= 0:
                    cmd += ["--limit", str(args.eval_windows)]
                e = json.loads(run(cmd)[0])
                result["rows"].append({
                    "group": group, "bits": bits, "rounding": rounding,
                    "quantize_seconds": round(seconds, 2),
                    "perplexity": e["result"]["perplexity"],
                    "float_perplexity": e["reference"]["perplexity"],
                    "ppl_ratio": e["ppl_ratio"], "kld_mean": e["kld"]["mean"],
                    "kld_p99": e["kld"]["p99"], "same_top_percent": e["same_top_percent"],
                    "tokens": e["reference"]["tokens"]})
        if not args.skip_gptq_time:
            result["gptq_4096x4096_g128_seconds"] = gptq_4096_seconds(args.cli, args.device, d)

    print(f"{'group':>5} {'bits':>4} {'rounding':8} {'PPL':>9} {'ratio':>7} {'KLD mean':>9} "
          f"{'KLD p99':>8} {'same top':>9} {'quantize s':>10}")
    for r in result["rows"]:
        print(f"{r['group']:>5} {r['bits']:>4} {r['rounding']:8} {r['perplexity']:9.4f} "
              f"{r['ppl_ratio']:7.4f} {r['kld_mean']:9.5f} {r['kld_p99']:8.4f} "
              f"{r['same_top_percent']:8.2f}% {r['quantize_seconds']:10.1f}")
    if result["rows"]:
        r = result["rows"][0]
        print(f"float perplexity {r['float_perplexity']:.4f} on {r['tokens']} tokens; "
              f"calibration {result['calibration']}")
    if result.get("gptq_4096x4096_g128_seconds") is not None:
        print(f"GPTQ 4096x4096, 4 bits, groups of 128, 512 rows: "
              f"{result['gptq_4096x4096_g128_seconds']:.1f} s")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

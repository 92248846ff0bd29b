#!/usr/bin/env python3
"""The whole path at full size: every step a user takes on a 224x224 model, timed, with its peak
memory, beside PyTorch doing the same step where PyTorch has one. A measurement, not a pass/fail
test (exit status 1 only when a step fails).

    /usr/bin/python3 tests/perf/whole_path.py [--models resnet50,vit_b_16] [--images 256]
        [--cli build/bin/quantscope-cli] [--device cpu-onednn] [--threads 2] [--json FILE]
        [--markdown FILE]

Models: the zoo's torchvision exports (tests/models/make_zoo.py; cached outside the repository)
plus ResNet-50 exported with a dynamic batch, for the batch-8 speed of fp32 against int8.
Data: a folder of 256x256 RGB PNG images in class subfolders (Fashion-MNIST test images, scaled
and tinted; Debian's dataset-fashion-mnist), which the loader resizes to the model's 224x224.

Each Quantscope step is one `quantscope-cli` process on --device: its wall time (model loading
included) and its peak resident memory (ru_maxrss). Each PyTorch step runs in a process of its
own as well (the same memory measure; torch's import alone is a few hundred MB), with
torch.set_num_threads(--threads); its time is the step's work alone (model built, data read).
Steps:
  eval        float model on --images images (torch: forward in batches of 8 under no_grad)
  w8a8        quantize, 8-bit weights per channel and activations, MSE calibration on --images
              images (torch: FX graph-mode PTQ on its quantized engine (onednn or x86) with the
              qconfig of tests/perf/torch_ptq.py, whose HistogramObserver also minimises the
              quantization error, calibrated on the same images, converted)
  w4-gptq     4-bit GPTQ weights, float activations, 64 calibration images (torch has none)
  eval-int8   the W8A8 model on 64 images with --real integer kernels (torch: the converted
              FX model)
  sensitivity each layer's weights alone at 4 and 8 bits, 16 images (torch: the same RTN sweep
              as tests/perf/torch_hessian.py)
  hessian     Hutchinson traces, 4 probes on 8 images (torch: double backward)
  search      sensitivity sweep + Pareto front at 4/8 bits, 2 points verified, 16 images
  export      QDQ package of the W8A8 configuration (with its self-check)
  bench       batch 8 on the dynamic-batch ResNet-50: fp32 and real int8 on --device, ONNX
              Runtime on the float model and on the exported QDQ model (tests/perf/ort_bench.mjs)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
sys.path.insert(0, HERE)

CONSTRUCTORS = {"resnet50": "resnet50", "vit_b_16": "vit_b_16"}
DYNAMIC_RESNET = ("resnet50_dynamic", "resnet50", 13, True, True, (3, 224, 224))


def cache_dir():
    import make_zoo
    return make_zoo.default_dir()


def make_images(root, count):
    """count PNGs, 256x256 RGB, in class subfolders; kept between runs."""
    import gzip
    import numpy as np
    from PIL import Image
    done = os.path.join(root, f".made-{count}")
    if os.path.exists(done):
        return
    src = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    imgs = np.frombuffer(gzip.open(src).read()[16:], np.uint8).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.open(src.replace("images-idx3", "labels-idx1")).read()[8:], np.uint8)
    rng = np.random.default_rng(0)
    for i in range(count):
        d = os.path.join(root, f"class{labels[i]}")
        os.makedirs(d, exist_ok=True)
        tint = rng.uniform(0.3, 1.0, 3)
        rgb = (np.stack([imgs[i] * t for t in tint], -1)).astype(np.uint8)
        Image.fromarray(rgb).resize((256, 256), Image.BILINEAR).save(os.path.join(d, f"{i:04d}.png"))
    open(done, "w").close()


def run_measured(cmd):
    """Runs cmd, returns (seconds, peak MB, stdout): peak from /usr/bin/time's %M."""
    full = ["/usr/bin/time", "-f", "QS_PEAK_KB %M"] + cmd
    t0 = time.time()
    proc = subprocess.run(full, capture_output=True, text=True)
    seconds = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    peak = 0
    for line in proc.stderr.splitlines():
        if line.startswith("QS_PEAK_KB "):
            peak = int(line.split()[1]) // 1024
    return seconds, peak, proc.stdout


# ---- PyTorch steps, each in a process of its own (--torch-step) ----

def load_images(folder, count):
    import numpy as np
    from PIL import Image
    files = []
    for cls in sorted(os.listdir(folder)):
        d = os.path.join(folder, cls)
        if os.path.isdir(d):
            files += [(os.path.join(d, f), int(cls.replace("class", ""))) for f in sorted(os.listdir(d))]
    files = files[:count]
    x = np.stack([np.asarray(Image.open(f).convert("RGB").resize((224, 224), Image.BILINEAR),
                             dtype=np.float32).transpose(2, 0, 1) / 255.0 for f, _ in files])
    return x, np.array([c for _, c in files], dtype=np.int64)


def torch_step(step, model_name, folder, count, threads):
    import numpy as np
    import torch
    import torch.nn.functional as F
    import make_zoo
    torch.set_num_threads(threads)
    model = make_zoo.seeded_model(CONSTRUCTORS[model_name]).eval()
    x_np, y_np = load_images(folder, count)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    t0 = time.time()
    if step == "eval":
        with torch.no_grad():
            for i in range(0, len(x), 8):
                model(x[i:i + 8])
    elif step in ("w8a8", "eval-int8"):
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        import torch_ptq  # the quantized engine this torch has, and the qconfig the PTQ benchmark uses
        engine, _ = torch_ptq.pick_engine()
        qconfig = torch_ptq.make_qconfig()
        mapping = torch_ptq.make_qconfig_mapping(engine, qconfig)
        try:
            prepared = prepare_fx(model, mapping, (x[:1],))
            convert = convert_fx
        except torch.fx.proxy.TraceError:
            # FX cannot trace torchvision's ViT (it unpacks x.shape): eager mode, observers on
            # every Conv and Linear. Its converted model needs QuantStubs around every float op
            # to run, so eval-int8 has no torch number there.
            if step == "eval-int8":
                print(json.dumps({"seconds": None}))
                return
            from torch.ao.quantization import convert as convert_eager, prepare as prepare_eager
            for m in model.modules():
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                    m.qconfig = qconfig
            prepared = prepare_eager(model)
            convert = convert_eager
        calib = x if step == "w8a8" else x[:8]
        with torch.no_grad():
            for i in range(0, len(calib), 8):
                prepared(calib[i:i + 8])
        q = convert(prepared)
        if step == "eval-int8":
            t0 = time.time()
            with torch.no_grad():
                for i in range(0, len(x), 8):
                    q(x[i:i + 8])
    elif step == "sensitivity":
        import torch_hessian
        layers = [n for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        t0 = time.time()
        torch_hessian.torch_sweep(model, layers, x, [4, 8])
    elif step == "hessian":
        import torch_hessian
        params = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        t0 = time.time()
        torch_hessian.torch_traces(model, params, x, lambda out: F.cross_entropy(out, y), 4, 0)
    else:
        raise SystemExit(f"no torch step {step}")
    print(json.dumps({"seconds": time.time() - t0}))


def torch_measured(step, model_name, folder, count, threads):
    secs, peak, out = run_measured([sys.executable, os.path.abspath(__file__), "--torch-step", step,
                                    "--models", model_name, "--folder", folder, "--images", str(count),
                                    "--threads", str(threads)])
    return json.loads(out.strip().splitlines()[-1])["seconds"], peak


def ort_ms(model, batch, threads):
    out = subprocess.run(["node", os.path.join(HERE, "ort_bench.mjs"), model, str(batch), str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["median_ms"]


def bench_ms(cli, model, device, batch, threads, config=None):
    cmd = [cli, "bench", model, "--device", device, "--batch", str(batch), "--threads", str(threads), "--json"]
    if config:
        cmd += ["--config", config, "--real"]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)["median_ms"]


def run_model(name, args, folder, work):
    import make_zoo
    path = os.path.join(cache_dir(), name + ".onnx")
    if not os.path.exists(path):
        make_zoo.export(next(e for e in make_zoo.ZOO if e[0] == name), cache_dir())
    cli, dev, n = args.cli, args.device, args.images
    data = "folder:" + folder
    w8 = os.path.join(work, name + ".w8a8.json")
    w4 = os.path.join(work, name + ".w4.json")
    steps = [
        ("eval", [cli, "eval", path, "--data", data, "--limit", str(n), "--device", dev], n),
        ("w8a8", [cli, "quantize", path, "--data", data, "--limit", str(n), "--device", dev, "-o", w8], n),
        ("w4-gptq", [cli, "quantize", path, "--data", data, "--limit", "64", "--device", dev,
                     "--weights", "4", "--acts", "float", "--rounding", "gptq", "-o", w4], None),
        ("eval-int8", [cli, "eval", path, "--data", data, "--limit", "64", "--device", dev,
                       "--config", w8, "--real"], 64),
        ("sensitivity", [cli, "sensitivity", path, "--data", data, "--limit", "16", "--bits", "4,8",
                         "--what", "weights", "--device", dev, "--json"], 16),
        ("hessian", [cli, "hessian", path, "--data", data, "--limit", "8", "--probes", "4",
                     "--min-probes", "4", "--threads", str(args.threads), "--json"], 8),
        ("search", [cli, "search", path, "--data", data, "--limit", "16", "--bits", "4,8",
                    "--verify", "2", "--device", dev, "--json"], None),
        ("export", [cli, "export", path, "--config", w8, "-o", os.path.join(work, name + ".pkg")], None),
    ]
    rows = []
    for step, cmd, torch_count in steps:
        secs, peak, _ = run_measured(cmd)
        row = {"model": name, "step": step, "qs_s": round(secs, 2), "qs_mb": peak}
        ts = None
        if torch_count:
            ts, tpeak = torch_measured(step, name, folder, torch_count, args.threads)
        if ts:  # None where torch cannot do the step on this model
            row.update({"torch_s": round(ts, 2), "torch_mb": tpeak, "ratio": round(secs / ts, 2)})
        rows.append(row)
        print(f"  {name:10s} {step:12s} Quantscope {secs:8.1f} s {peak:6d} MB" +
              (f"   PyTorch {row['torch_s']:8.1f} s {row['torch_mb']:6d} MB  ratio {row['ratio']:.2f}"
               if ts else ""), flush=True)
    return rows


def int8_bench(args, folder, work):
    """fp32 against int8 at batch 8 on a dynamic-batch ResNet-50, ONNX Runtime beside."""
    import make_zoo
    make_zoo.export(DYNAMIC_RESNET, cache_dir())
    path = os.path.join(cache_dir(), DYNAMIC_RESNET[0] + ".onnx")
    w8 = os.path.join(work, "resnet50_dynamic.w8a8.json")
    pkg = os.path.join(work, "resnet50_dynamic.pkg")
    data = "folder:" + folder
    subprocess.run([args.cli, "quantize", path, "--data", data, "--limit", "64", "--device", args.device,
                    "-o", w8], check=True, capture_output=True)
    subprocess.run([args.cli, "export", path, "--config", w8, "-o", pkg], check=True, capture_output=True)
    qdq = [os.path.join(pkg, "model.onnx")] if os.path.exists(os.path.join(pkg, "model.onnx")) else []
    row = {"model": "resnet50 (dynamic batch)", "batch": 8, "threads": args.threads,
           "qs_fp32_ms": bench_ms(args.cli, path, args.device, 8, args.threads),
           "qs_int8_ms": bench_ms(args.cli, path, args.device, 8, args.threads, w8),
           "ort_fp32_ms": ort_ms(path, 8, args.threads),
           "ort_qdq_ms": ort_ms(qdq[0], 8, args.threads) if qdq else None}
    row["int8_speedup"] = round(row["qs_fp32_ms"] / row["qs_int8_ms"], 2)
    if row["ort_qdq_ms"]:
        row["int8_vs_ort_qdq"] = round(row["qs_int8_ms"] / row["ort_qdq_ms"], 2)
    print("  batch 8, %d threads: Quantscope fp32 %.1f ms, int8 %.1f ms (x%.2f); ORT fp32 %.1f ms, QDQ %s ms"
          % (args.threads, row["qs_fp32_ms"], row["qs_int8_ms"], row["int8_speedup"], row["ort_fp32_ms"],
             "%.1f" % row["ort_qdq_ms"] if row["ort_qdq_ms"] else "-"), flush=True)
    return row


def markdown(report):
    lines = ["| model | step | Quantscope s | Quantscope MB | PyTorch s | PyTorch MB | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in report["steps"]:
        lines.append("| %s | %s | %.1f | %d | %s | %s | %s |" % (
            r["model"], r["step"], r["qs_s"], r["qs_mb"], r.get("torch_s", "-"), r.get("torch_mb", "-"),
            r.get("ratio", "-")))
    b = report.get("int8_bench")
    if b:
        lines += ["", "| model | batch | threads | QS fp32 ms | QS int8 ms | int8 speed-up | ORT fp32 ms | ORT QDQ ms | QS int8 / ORT QDQ |",
                  "|---|---|---|---|---|---|---|---|---|",
                  "| %s | %d | %d | %.1f | %.1f | %.2f | %.1f | %s | %s |" % (
                      b["model"], b["batch"], b["threads"], b["qs_fp32_ms"], b["qs_int8_ms"], b["int8_speedup"],
                      b["ort_fp32_ms"], "%.1f" % b["ort_qdq_ms"] if b.get("ort_qdq_ms") else "-",
                      b.get("int8_vs_ort_qdq", "-"))]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet50,vit_b_16")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--device", default="cpu-onednn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-int8-bench", action="store_true")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--markdown", metavar="FILE")
    p.add_argument("--torch-step", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_step:
        torch_step(args.torch_step, args.models, args.folder, args.images, args.threads)
        return 0
    folder = os.path.join(cache_dir(), "images-224")
    make_images(folder, args.images)
    report = {"images": args.images, "device": args.device, "threads": args.threads, "steps": []}
    failed = False
    with tempfile.TemporaryDirectory(prefix="qs-whole-path-") as work:
        for name in [m for m in args.models.split(",") if m]:
            try:
                report["steps"] += run_model(name, args, folder, work)
            except RuntimeError as e:
                print(f"  {name}: {e}", file=sys.stderr)
                failed = True
        if not args.no_int8_bench:
            try:
                report["int8_bench"] = int8_bench(args, folder, work)
            except (RuntimeError, subprocess.CalledProcessError) as e:
                print(f"  int8 bench: {e}", file=sys.stderr)
                failed = True
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(report))
    print(markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

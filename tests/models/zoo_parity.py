#!/usr/bin/env python3
"""Parity of the foreign-model zoo (make_zoo.py) with ONNX Runtime, on cpu-ref and cpu-onednn.

    /usr/bin/python3 tests/models/zoo_parity.py [--cli build/bin/quantscope-cli] [--only NAMES]
                                                [--json OUT.json]

Exports the zoo when it is missing (into $QS_ZOO_DIR or ~/.cache/quantscope/zoo), then for each
model: runs its seeded input through ONNX Runtime (tests/peer, onnxruntime-node) and through
`quantscope-cli run` on both devices, and requires max |diff| <= 1e-3 x max |ORT| on every
output; `info --device cpu-onednn` counts the nodes left to the reference kernels. Prints a
table; exit status 1 when a model fails to load or run or misses the tolerance, 77 (skipped) when
torchvision or ONNX Runtime is not installed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(ROOT, "tests", "peer")
sys.path.insert(0, HERE)
import make_zoo  # noqa: E402

TOLERANCE = 1e-3


def run(args, timeout=900):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: {p.stderr.strip()[-600:]}")
    return p.stdout


def relative_error(got, want):
    scale = float(np.abs(want).max()) or 1.0
    return float(np.abs(got.astype(np.float64) - want).max()) / scale


def check(cli, zoo_dir, name, work):
    model = os.path.join(zoo_dir, name + ".onnx")
    x = os.path.join(zoo_dir, name + ".input.npy")
    row = {"model": name}
    ort_dir = os.path.join(work, "ort")
    os.makedirs(ort_dir, exist_ok=True)
    run(["node", os.path.join(PEER, "ort_run.mjs"), model, ort_dir, f"input={x}"])
    want = np.load(os.path.join(ort_dir, "output.npy"))
    for device in ("cpu-ref", "cpu-onednn"):
        out = os.path.join(work, device + ".npy")
        run([cli, "run", model, "--input", x, "--output", out, "--device", device])
        got = np.load(out)
        if got.shape != want.shape:
            raise RuntimeError(f"{device}: output shape {got.shape}, ONNX Runtime {want.shape}")
        row[device] = relative_error(got, want)
    info = json.loads(run([cli, "info", model, "--device", "cpu-onednn", "--json"]))
    row["nodes"] = len(info["layers"])
    row["nodes_on_cpu_ref"] = sum(1 for layer in info["layers"] if layer["device"] != "cpu-onednn")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    parser.add_argument("--zoo", default=make_zoo.default_dir())
    parser.add_argument("--only", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    try:
        import torchvision  # noqa: F401
    except ImportError:
        print("skipped: python3-torchvision is not installed")
        return 77
    if not shutil.which("node") or not os.path.isdir(os.path.join(PEER, "node_modules", "onnxruntime-node")):
        print("skipped: onnxruntime-node is not installed in tests/peer (scripts/test.sh installs it)")
        return 77
    names = [n for n in args.only.split(",") if n] or [e[0] for e in make_zoo.ZOO]
    subprocess.run([sys.executable, os.path.join(HERE, "make_zoo.py"), "--out", args.zoo,
                    "--only", ",".join(names)], check=True, stdout=subprocess.DEVNULL)
    rows, failures = [], 0
    print(f"{'model':22s} {'opset':>5s} {'batch':>7s} {'cpu-ref':>9s} {'cpu-onednn':>10s} {'nodes':>6s} {'on cpu-ref':>10s}")
    recipes = {e[0]: e for e in make_zoo.ZOO}
    for name in names:
        work = tempfile.mkdtemp(prefix="qs_zoo_")
        try:
            row = check(args.cli, args.zoo, name, work)
            ok = row["cpu-ref"] <= TOLERANCE and row["cpu-onednn"] <= TOLERANCE
            row["passed"] = ok
            e = recipes[name]
            print(f"{name:22s} {e[2]:5d} {'dynamic' if e[3] else 'static':>7s} {row['cpu-ref']:9.1e} "
                  f"{row['cpu-onednn']:10.1e} {row['nodes']:6d} {row['nodes_on_cpu_ref']:10d}"
                  f"{'' if ok else '  FAILED: above ' + str(TOLERANCE)}", flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            row = {"model": name, "passed": False, "error": str(err)}
            print(f"{name:22s} FAILED: {err}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        failures += not row["passed"]
        rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"tolerance": TOLERANCE, "models": rows}, f, indent=1)
    print(f"{len(rows) - failures} of {len(rows)} models match ONNX Runtime within {TOLERANCE} x max |ORT|")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Hessian traces and sensitivity sweeps: Quantscope against an independent PyTorch computation
on the bundled models. A measurement, not a pass/fail test (exit status 1 only when a run fails).

Traces. For each model, `quantscope-cli hessian MODEL --data fashion-mnist:test --limit 256
--probes P --min-probes P --json` (P probes exactly), then the same in PyTorch: the torch module
from resources/models/train.py with the weights of the .onnx file (tests/perf/torch_ptq.py's
loader), BatchNormalization folded into the convolutions as Quantscope folds it on import, the
same loss (cross-entropy on the labels for the classifiers; for the autoencoder, the KL
divergence from the float output's softmax along the last axis, averaged over the other
positions), and Hutchinson's estimator with P Rademacher probes over all layers at once, each
Hessian-vector product exact by double backward (the first-order graph is built once and kept
across probes, the fastest way PyTorch has). The two estimates are independent: per layer the
script reports z = (ours - torch) / sqrt(se_ours^2 + se_torch^2), the share of layers within one
combined standard error (about 68% expected of two unbiased estimates) and within two (about
95%), and Spearman's rank correlation of the layers' traces.

Speed, in the same run: the P probes (wall time of the CLI process, which includes loading the
model and data, against torch's probe loop alone), and a weight sensitivity sweep of all layers
x 5 bit widths on 1000 test images: `quantscope-cli sensitivity --bits 2,3,4,6,8` on the fastest
device listed (cpu-onednn when present) against torch doing the same work per (layer, bits):
per-channel symmetric round-to-nearest weights, the model over the 1000 images, KL, SQNR and
top-1 agreement against the float outputs (computed once). ratio = Quantscope / PyTorch time.

usage: /usr/bin/python3 tests/perf/torch_hessian.py [--models lenet,mobilenet,vit,autoencoder]
           [--probes 200] [--samples 256] [--sweep-samples 1000] [--threads 1] [--no-sweep]
           [--cli build/bin/quantscope-cli] [--json FILE]
--threads: torch's threads (1 is its fastest on the 2-core dev box for these sizes); Quantscope
runs probes on every core (say so when reporting).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import torch_ptq  # noqa: E402  (the weight loader and train.py import)

CLASSES = {"lenet": "LeNet", "mobilenet": "MobileNet", "vit": "TinyViT", "autoencoder": "DenoisingAE"}


def module_key(node_name):
    """ONNX node name -> module path: /blocks/blocks.0/dw/Conv -> blocks.0.dw, /conv1/Conv -> conv1."""
    parts = node_name.strip("/").split("/")[:-1]
    dotted = [i for i, p in enumerate(parts) if "." in p]
    return ".".join(parts[dotted[-1] if dotted else 0:])


def fold_batch_norms(model):
    """Conv followed by BatchNorm (MobileNet's stem and blocks) -> one conv, BN -> Identity."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    pairs = []
    if hasattr(model, "stem"):
        pairs.append((model.stem, "0", "1"))
    for block in getattr(model, "blocks", []):
        if hasattr(block, "bn1"):
            pairs.append((block, "dw", "bn1"))
            pairs.append((block, "pw", "bn2"))
    for parent, conv_name, bn_name in pairs:
        conv, bn = getattr(parent, conv_name) if not conv_name.isdigit() else parent[int(conv_name)], \
            getattr(parent, bn_name) if not bn_name.isdigit() else parent[int(bn_name)]
        fused = fuse_conv_bn_eval(conv, bn)
        if conv_name.isdigit():
            parent[int(conv_name)] = fused
            parent[int(bn_name)] = torch.nn.Identity()
        else:
            setattr(parent, conv_name, fused)
            setattr(parent, bn_name, torch.nn.Identity())


def preprocess(path):
    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    pre = json.loads(meta.get("quantscope.preprocess", "{}"))
    return pre.get("mean", [0.0])[0], pre.get("std", [1.0])[0]


def loss_fn(name, target):
    if name == "autoencoder":
        logp = F.log_softmax(target, dim=-1)
        def kl(out):
            return (logp.exp() * (logp - F.log_softmax(out, dim=-1))).sum(-1).mean()
        return kl
    return None


def torch_traces(model, params, x, loss, probes, seed):
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    g = torch.autograd.grad(loss(model(x)), params, create_graph=True)
    q = np.zeros((probes, len(params)))
    for k in range(probes):
        v = [torch.randint(0, 2, p.shape, generator=gen, dtype=torch.float32) * 2 - 1 for p in params]
        hv = torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True)
        q[k] = [float((a * b).sum()) for a, b in zip(v, hv)]
    seconds = time.time() - t0
    mean = q.mean(0)
    se = q.std(0, ddof=1) / np.sqrt(probes)
    return mean, se, seconds


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def quantize_rtn(w, bits):
    """Per output channel, symmetric, round half to even, codes in [-(2^(b-1)-1), 2^(b-1)-1]."""
    qmax = 2 ** (bits - 1) - 1
    flat = w.reshape(w.shape[0], -1)
    scale = flat.abs().amax(1).clamp_min(1e-12) / qmax
    q = torch.clamp(torch.round(flat / scale[:, None]), -qmax, qmax)
    return (q * scale[:, None]).reshape(w.shape)


def torch_sweep(model, layers, x, bits_list):
    t0 = time.time()
    with torch.no_grad():
        ref = model(x)
        ref_logp = F.log_softmax(ref, -1)
        ref_top = ref.argmax(-1)
        for key in layers:
            mod = model.get_submodule(key)
            w0 = mod.weight.data.clone()
            for bits in bits_list:
                mod.weight.data = quantize_rtn(w0, bits)
                out = model(x)
                kl = (ref_logp.exp() * (ref_logp - F.log_softmax(out, -1))).sum(-1).mean().item()
                err = ((out - ref) ** 2).sum().item()
                sqnr = 10 * np.log10((ref ** 2).sum().item() / max(err, 1e-30))
                agree = (out.argmax(-1) == ref_top).float().mean().item()
                del kl, sqnr, agree
            mod.weight.data = w0
    return time.time() - t0


def run_cli(cmd):
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - t0
    if out.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), out.stderr.strip()[-500:]))
    return json.loads(out.stdout), seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="lenet,mobilenet,vit,autoencoder")
    p.add_argument("--probes", type=int, default=200)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--sweep-samples", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-sweep", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args()

    train = torch_ptq.import_train()
    torch.set_num_threads(args.threads)
    x_all, y_all = train.load_split("t10k")
    plugins = subprocess.run([args.cli, "plugins"], capture_output=True, text=True).stdout
    sweep_device = "cpu-onednn" if "cpu-onednn" in plugins else "cpu-ref"
    print("torch %s, %d thread(s); Quantscope probes on %d cores; %d probes on %d test images; "
          "sweep on %d images, Quantscope device %s"
          % (torch.__version__, args.threads, os.cpu_count(), args.probes, args.samples,
             args.sweep_samples, sweep_device))
    report, failed = [], False
    for name in args.models.split(","):
        path = os.path.join(ROOT, "resources", "models", name + ".onnx")
        row = {"model": name}
        try:
            model = getattr(train, CLASSES[name])()
            torch_ptq.load_onnx_weights(model, path)
            model.eval()
            fold_batch_norms(model)
            mean, std = preprocess(path)
            x = (x_all[:args.samples] - mean) / std
            y = y_all[:args.samples]

            ours, ours_s = run_cli([args.cli, "hessian", path, "--data", "fashion-mnist:test",
                                    "--limit", str(args.samples), "--probes", str(args.probes),
                                    "--min-probes", str(args.probes), "--json"])
            keys = [module_key(l["name"]) for l in ours["layers"]]
            params = [model.get_submodule(k).weight for k in keys]
            for prm in model.parameters():
                prm.requires_grad_(False)
            for prm in params:
                prm.requires_grad_(True)
            with torch.no_grad():
                target = model(x)
            kl = loss_fn(name, target)
            loss = kl if kl else (lambda out: F.cross_entropy(out, y))
            t_mean, t_se, torch_s = torch_traces(model, params, x, loss, args.probes, args.seed)
            a = np.array([l["trace"] for l in ours["layers"]])
            sa = np.array([l["stderr"] for l in ours["layers"]])
            z = (a - t_mean) / np.sqrt(sa ** 2 + t_se ** 2)
            row.update({
                "loss": ours["loss"], "probes": ours["probes"],
                "layers": [{"name": l["name"], "ours": l["trace"], "ours_se": l["stderr"],
                            "torch": float(t_mean[i]), "torch_se": float(t_se[i]), "z": float(z[i])}
                           for i, l in enumerate(ours["layers"])],
                "within_1se": float(np.mean(np.abs(z) <= 1)),
                "within_2se": float(np.mean(np.abs(z) <= 2)),
                "max_abs_z": float(np.max(np.abs(z))),
                "spearman": spearman(a, t_mean),
                "hessian_seconds": {"quantscope": round(ours_s, 2), "torch": round(torch_s, 2),
                                    "ratio": round(ours_s / torch_s, 3)}})
            print("\n%s (%s, %d probes): Spearman %.3f, within 1 se %.0f%%, within 2 se %.0f%%, max |z| %.2f"
                  % (name, ours["loss"], ours["probes"], row["spearman"], 100 * row["within_1se"],
                     100 * row["within_2se"], row["max_abs_z"]))
            print("  %-36s %12s %10s %12s %10s %6s" % ("layer", "ours", "+-", "torch", "+-", "z"))
            for l in row["layers"]:
                print("  %-36s %12.4g %10.2g %12.4g %10.2g %6.2f"
                      % (l["name"], l["ours"], l["ours_se"], l["torch"], l["torch_se"], l["z"]))
            print("  %d probes: Quantscope %.2f s, torch %.2f s, ratio %.2f"
                  % (args.probes, ours_s, torch_s, ours_s / torch_s))

            if not args.no_sweep and name != "autoencoder":
                for prm in model.parameters():
                    prm.requires_grad_(False)
                xs = (x_all[:args.sweep_samples] - mean) / std
                _, sweep_s = run_cli([args.cli, "sensitivity", path, "--data", "fashion-mnist:test",
                                      "--limit", str(args.sweep_samples), "--bits", "2,3,4,6,8",
                                      "--device", sweep_device, "--json"])
                t_sweep = torch_sweep(model, keys, xs, [2, 3, 4, 6, 8])
                row["sweep_seconds"] = {"quantscope": round(sweep_s, 2), "torch": round(t_sweep, 2),
                                        "ratio": round(sweep_s / t_sweep, 3)}
                print("  sweep %d layers x 5 widths on %d images: Quantscope %.2f s, torch %.2f s, ratio %.2f"
                      % (len(keys), args.sweep_samples, sweep_s, t_sweep, sweep_s / t_sweep))
        except Exception as e:  # noqa: BLE001  report and go on with the next model
            failed = True
            row["error"] = str(e)
            print("\n%s: FAILED: %s" % (name, e))
        report.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": args.threads, "probes": args.probes,
                       "samples": args.samples, "sweep_device": sweep_device, "models": report}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

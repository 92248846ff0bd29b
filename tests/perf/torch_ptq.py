#!/usr/bin/env python3
"""PyTorch post-training int8 quantization of the bundled classifiers: the peer number for
Quantscope's PTQ. A measurement, not a pass/fail test.

For each classifier in resources/models (lenet, mobilenet, vit):

1. Builds the torch module from resources/models/train.py's classes (imported by path, nothing
   copied) and loads its weights from the .onnx file's initializers. Most initializers carry the
   state_dict key as their name; the ViT's Linear weights are anonymous `onnx::MatMul_N` tensors
   ([in,out], the transpose of nn.Linear.weight), matched to their layer through the bias Add
   that consumes the MatMul (`blocks.0.attn.q.bias` -> `blocks.0.attn.q.weight`). MobileNet's
   BatchNormalization parameters and running statistics are in the file under their own names.
   Checks: every state_dict entry (except BatchNorm's num_batches_tracked) and every initializer
   is used; the float32 top-1 on the 10k Fashion-MNIST test images equals the one recorded in
   resources/models/models.json; and the logits match train.py's OnnxGraphRunner (the .onnx
   graph run node by node) to within 1e-4.
2. Quantizes with torch.ao.quantization, FX graph mode (prepare_fx / convert_fx; eager mode with
   QuantStub/DeQuantStub and Conv+BN fusion only if FX fails, or with --mode eager), quantized
   engine 'onednn' (else x86/fbgemm/qnnpack, said in the output). qconfig: activations
   HistogramObserver (quint8, per-tensor affine, reduce_range=False), weights
   PerChannelMinMaxObserver (qint8, per_channel_symmetric); the rest of the QConfigMapping is
   torch's default one (LayerNorm with float weights, fixed-qparams ops, reshape reusing its
   input's qparams). Calibration: the first --calib images of the Fashion-MNIST train split
   (what `quantscope-cli ... --data fashion-mnist:train --limit 1000` reads), in one batch by
   default. Evaluation: top-1 on the first --eval test images (all 10,000 by default).
   Preprocessing: pixels/255, then (x-0.2860)/0.3530 in float before the model's quantize.
3. Reports which ops stayed in float: found by running the converted model once and listing the
   compute ops whose inputs are float tensors (layout ops such as reshape/transpose and the
   quantize/dequantize nodes themselves are not listed).

With --quantscope BUILD_BIN_DIR it also runs our side, when BUILD_BIN_DIR/quantscope-cli has a
`quantize` command:
    quantscope-cli quantize MODEL --data fashion-mnist:train --limit 1000 --weights 8 --acts 8
        --granularity channel --calib mse -o CONFIG.json   (--qs-calib picks another calibrator)
    quantscope-cli eval MODEL --config CONFIG.json --data fashion-mnist:test --json   (-> top1)
Failures there are reported in the table, never fatal.

Needs Debian's python3-torch (1.13) and python3-onnx, and the dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist, or $FASHION_MNIST_DIR). Run from anywhere, with the Python
that has torch (on the dev box that is /usr/bin/python3, not pyenv's python3):

    /usr/bin/python3 tests/perf/torch_ptq.py --json out.json
    /usr/bin/python3 tests/perf/torch_ptq.py --models vit --threads 1 --quantscope build/bin

Options: --models lenet,mobilenet,vit  --calib 1000  --eval 10000  --threads 1  --json FILE
         --quantscope DIR  --mode auto|fx|eager  --calib-batch 1000
Exit status: 0; 1 when a model failed or its float32 top-1 differs from models.json.
About 40 s for all three models on one thread of the 2-core dev box (most of it the float32
evaluation and the .onnx graph check; --no-onnx-check skips the latter).
"""
import argparse
import collections
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS_DIR = os.path.join(ROOT, "resources", "models")

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import torch
except ImportError as e:  # pyenv and venv Pythons usually lack Debian's torch
    sys.exit("torch_ptq.py: %s (run it with Debian's /usr/bin/python3, which has python3-torch "
             "and python3-onnx)" % e)

CLASSES = {"lenet": "LeNet", "mobilenet": "MobileNet", "vit": "TinyViT"}
# ops that only move data around; not listed as "stayed float"
LAYOUT_OPS = {"reshape", "view", "transpose", "permute", "flatten", "contiguous", "size",
              "getitem", "getattr", "squeeze", "unsqueeze", "chunk", "split", "expand", "repeat",
              "to", "detach", "clone", "Identity", "Flatten", "DeQuantStub", "QuantStub"}


def import_train():
    """resources/models/train.py as a module. Its main() is behind `if __name__ == "__main__"`;
    at import it only sets torch to one (intra- and inter-op) thread."""
    spec = importlib.util.spec_from_file_location("quantscope_train", os.path.join(MODELS_DIR, "train.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------- weights
def load_onnx_weights(model, onnx_path):
    """Fills model's state_dict from the ONNX initializers. Returns a one-line summary."""
    g = onnx.load(onnx_path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    sd = model.state_dict()
    consumers = collections.defaultdict(list)
    for node in g.node:
        for name in node.input:
            consumers[name].append(node)

    new_sd, used, by_name, by_matmul = {}, set(), 0, 0
    for key in sd:
        if key in inits:
            new_sd[key] = inits[key]
            used.add(key)
            by_name += 1
    for node in g.node:
        if node.op_type != "MatMul" or len(node.input) < 2:
            continue
        w = node.input[1]
        if w not in inits or w in sd:
            continue
        # the bias Add right after the MatMul names the layer: "<layer>.bias"
        biases = [i for c in consumers[node.output[0]] if c.op_type == "Add"
                  for i in c.input if i in inits and i.endswith(".bias")]
        if len(biases) == 1:
            key = biases[0][:-len(".bias")] + ".weight"
        else:  # fall back on the scope name: /blocks/blocks.0/attn/q/MatMul -> blocks.0.attn.q
            parts = node.name.strip("/").split("/")[:-1]
            dotted = [i for i, p in enumerate(parts) if "." in p]
            start = dotted[-1] if dotted else 0
            key = ".".join(parts[start:]) + ".weight"
        if key not in sd:
            raise RuntimeError("%s: MatMul %s (weight %s) maps to %s, not in the state_dict"
                               % (onnx_path, node.name, w, key))
        if key in new_sd:
            raise RuntimeError("%s: %s filled twice" % (onnx_path, key))
        new_sd[key] = inits[w].T  # MatMul B is [in,out]; nn.Linear.weight is [out,in]
        used.add(w)
        by_matmul += 1

    missing = [k for k in sd if k not in new_sd and not k.endswith("num_batches_tracked")]
    unused = [n for n in inits if n not in used]
    if missing or unused:
        raise RuntimeError("%s: state_dict keys without an initializer: %s; initializers not used: %s"
                           % (onnx_path, missing, unused))
    out = {}
    for key, ref in sd.items():
        if key not in new_sd:
            out[key] = ref  # num_batches_tracked: unused in eval
            continue
        t = torch.from_numpy(np.array(new_sd[key], dtype=np.float32, copy=True)).to(ref.dtype)
        if tuple(t.shape) != tuple(ref.shape):
            raise RuntimeError("%s: %s has shape %s in the file, %s in the module"
                               % (onnx_path, key, tuple(t.shape), tuple(ref.shape)))
        out[key] = t
    model.load_state_dict(out, strict=True)
    return "%d initializers -> %d state_dict tensors (%d by name, %d MatMul weights transposed)" % (
        len(inits), by_name + by_matmul, by_name, by_matmul)


# --------------------------------------------------------------------------- quantization
def pick_engine():
    engines = torch.backends.quantized.supported_engines
    for e in ("onednn", "x86", "fbgemm", "qnnpack"):
        if e in engines:
            torch.backends.quantized.engine = e
            return e, "" if e == "onednn" else "onednn not in this torch (%s); used %s" % (engines, e)
    raise RuntimeError("no quantized engine in this torch: %s" % engines)


def make_qconfig():
    from torch.ao.quantization import HistogramObserver, PerChannelMinMaxObserver, QConfig
    return QConfig(
        activation=HistogramObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                               reduce_range=False),
        weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))


def make_qconfig_mapping(engine, qconfig):
    """torch's default PTQ mapping for the engine, with our qconfig wherever it puts the
    engine's default one (global, conv, linear, relu, batchnorm). LayerNorm keeps float
    weights (its activation observer becomes ours); fixed-qparams ops keep theirs."""
    from torch.ao.quantization import QConfig, get_default_qconfig, get_default_qconfig_mapping
    mapping = get_default_qconfig_mapping(engine)
    default = get_default_qconfig(engine)

    def same(a, b):
        return a is not None and b is not None and repr(a) == repr(b)

    mapping.set_global(qconfig)
    for op, qc in list(mapping.object_type_qconfigs.items()):
        if same(qc, default):
            mapping.set_object_type(op, qconfig)
        elif qc is not None and same(qc.activation, default.activation):
            mapping.set_object_type(op, QConfig(activation=qconfig.activation, weight=qc.weight))
    return mapping


def float_ops_of(graph_module, example):
    """Runs the converted GraphModule once; counts compute ops that got float inputs."""
    import torch.fx

    def tensors(v):
        if isinstance(v, torch.Tensor):
            return [v]
        if isinstance(v, (list, tuple)):
            return [t for x in v for t in tensors(x)]
        if isinstance(v, dict):
            return [t for x in v.values() for t in tensors(x)]
        return []

    counts = collections.Counter()
    modules = dict(graph_module.named_modules())

    class Probe(torch.fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n.op not in ("call_function", "call_method", "call_module"):
                return result
            if n.op == "call_module":
                name = type(modules[n.target]).__name__
            elif n.op == "call_method":
                name = n.target
            else:
                name = getattr(n.target, "__name__", str(n.target))
            if name in LAYOUT_OPS or name.startswith("quantize") or name == "dequantize":
                return result
            # data inputs only: get_attr inputs are scales, zero points and constants
            ins = [t for a in n.all_input_nodes if a.op != "get_attr" for t in tensors(self.env[a])]
            if any(t.is_floating_point() for t in ins):
                counts[name] += 1
            return result

    with torch.no_grad():
        Probe(graph_module).run(example)
    return dict(counts)


def quantize_fx(model, engine, calib_x, calib_batch, normalize):
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    mapping = make_qconfig_mapping(engine, make_qconfig())
    example = (normalize(calib_x[:2]),)
    prepared = prepare_fx(model, mapping, example)
    with torch.no_grad():
        for i in range(0, calib_x.shape[0], calib_batch):
            prepared(normalize(calib_x[i:i + calib_batch]))
    q = convert_fx(prepared)
    return q, float_ops_of(q, example[0])


class _Wrapped(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        from torch.ao.quantization import DeQuantStub, QuantStub
        self.quant, self.inner, self.dequant = QuantStub(), inner, DeQuantStub()

    def forward(self, x):
        return self.dequant(self.inner(self.quant(x)))


def _fusable_groups(model):
    """Conv2d followed by BatchNorm2d (and ReLU) among each module's direct children."""
    groups = []
    for prefix, mod in model.named_modules():
        kids = list(mod.named_children())
        for i, (name, child) in enumerate(kids[:-1]):
            if isinstance(child, torch.nn.Conv2d) and isinstance(kids[i + 1][1], torch.nn.BatchNorm2d):
                g = [name, kids[i + 1][0]]
                if i + 2 < len(kids) and isinstance(kids[i + 2][1], torch.nn.ReLU):
                    g.append(kids[i + 2][0])
                groups.append([(prefix + "." if prefix else "") + n for n in g])
    return groups


def quantize_eager(model, engine, calib_x, calib_batch, normalize):
    """Fallback. Modules are called in declaration order in train.py, so Conv+BN pairs fuse;
    functional ops (F.relu, max_pool2d, flatten) run on the quantized tensors. Float-only
    arithmetic on quantized tensors (ViT's `+`, matmul) fails here: it needs FloatFunctional."""
    from torch.ao.quantization import convert, fuse_modules, prepare
    wrapped = _Wrapped(model).eval()
    groups = [["inner." + n for n in g] for g in _fusable_groups(model)]
    if groups:
        wrapped = fuse_modules(wrapped, groups)
    wrapped.qconfig = make_qconfig()
    prepared = prepare(wrapped)
    with torch.no_grad():
        for i in range(0, calib_x.shape[0], calib_batch):
            prepared(normalize(calib_x[i:i + calib_batch]))
    q = convert(prepared)
    float_mods = collections.Counter(
        type(m).__name__ for _, m in q.named_modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.LayerNorm, torch.nn.BatchNorm2d))
        and not type(m).__module__.startswith(("torch.ao.nn.quantized", "torch.nn.quantized",
                                               "torch.nn.intrinsic.quantized", "torch.ao.nn.intrinsic.quantized")))
    return q, dict(float_mods)


# --------------------------------------------------------------------------- quantscope side
def run_quantscope(bin_dir, model_path, calib, timeout, calibrator, inputs_npy=None):
    """Returns (eval JSON with top1, agreement and kl, or None; note)."""
    cli = os.path.join(bin_dir, "quantscope-cli")
    if not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
        return None, "skipped: no %s" % cli
    try:
        help_out = subprocess.run([cli, "--help"], capture_output=True, text=True, timeout=60)
        if not any(line.split()[:1] == ["quantize"] for line in help_out.stdout.splitlines()):
            return None, "skipped: %s has no quantize command yet" % cli
        with tempfile.TemporaryDirectory(prefix="torch_ptq_") as tmp:
            cfg = os.path.join(tmp, "quant.json")
            cmd = [cli, "quantize", model_path, "--data", "fashion-mnist:train", "--limit", str(calib),
                   "--weights", "8", "--acts", "8", "--granularity", "channel",
                   "--calib", calibrator, "-o", cfg]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if r.returncode != 0:
                return None, "quantize failed (exit %d): %s" % (r.returncode, (r.stderr or r.stdout).strip()[-300:])
            cmd = [cli, "eval", model_path, "--config", cfg, "--data", "fashion-mnist:test", "--json"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            if r.returncode != 0:
                return None, "eval failed (exit %d): %s" % (r.returncode, (r.stderr or r.stdout).strip()[-300:])
            e = json.loads(r.stdout)
            if e.get("top1") is None:
                return None, "eval JSON has no top1"
            if inputs_npy:  # the quantized logits, for the paired comparison with torch's
                out = os.path.join(tmp, "logits.npy")
                r = subprocess.run([cli, "run", model_path, "--config", cfg, "--input", inputs_npy,
                                    "--output", out], capture_output=True, text=True, timeout=timeout)
                if r.returncode == 0:
                    e["logits"] = np.load(out)
            return e, "ok"
    except subprocess.TimeoutExpired as e:
        return None, "timed out after %ss: %s" % (timeout, " ".join(e.cmd[:2]))
    except (OSError, ValueError) as e:
        return None, "failed: %s" % e


# --------------------------------------------------------------------------- main
def top1_of(train, fn, x, y):
    t1, _, logits = train.eval_classifier(fn, x, y)
    return t1, logits


def fmt_ops(ops):
    return ", ".join("%s x%d" % (k, v) for k, v in sorted(ops.items())) if ops else "none"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lenet,mobilenet,vit")
    p.add_argument("--calib", type=int, default=1000, help="first N train images for calibration")
    p.add_argument("--calib-batch", type=int, default=1000, help="calibration batch size")
    p.add_argument("--eval", type=int, default=10000, help="first N test images for top-1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mode", choices=("auto", "fx", "eager"), default="auto")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--quantscope", metavar="BUILD_BIN_DIR")
    p.add_argument("--quantscope-timeout", type=int, default=1800)
    p.add_argument("--qs-calib", default="mse", help="our activation calibrator (default: ours, mse)")
    p.add_argument("--no-onnx-check", action="store_true",
                   help="skip the logit comparison with train.py's OnnxGraphRunner")
    args = p.parse_args()

    train = import_train()  # sets 1 thread; ours below
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    engine, engine_note = pick_engine()
    with open(os.path.join(MODELS_DIR, "models.json")) as f:
        recorded = json.load(f)["models"]

    t_all = time.time()
    data_dir = train.DATA_DIR
    calib_u8 = train.read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))[:args.calib]
    calib_x = torch.from_numpy(calib_u8.astype(np.float32) / 255.0).unsqueeze(1)
    x_test, y_test = train.load_split("t10k")
    x_test, y_test = x_test[:args.eval], y_test[:args.eval]
    print("torch %s, quantized engine %s%s, %d thread(s); calib: first %d of %s/train-images, "
          "eval: first %d test images" % (torch.__version__, engine,
                                          " (" + engine_note + ")" if engine_note else "",
                                          torch.get_num_threads(), calib_x.shape[0], data_dir,
                                          x_test.shape[0]), flush=True)

    rows, failed = [], False
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        qlogits = None
        row = {"model": name, "fp32_top1": None, "int8_top1": None, "backend": engine, "float_ops": None,
               "calib_images": int(calib_x.shape[0]), "eval_images": int(x_test.shape[0])}
        rows.append(row)
        t0 = time.time()
        try:
            if name not in CLASSES:
                raise RuntimeError("unknown model %r (have %s)" % (name, ", ".join(CLASSES)))
            path = os.path.join(MODELS_DIR, recorded[name]["file"])
            rec = recorded[name]["top1"]
            row["fp32_top1_recorded"] = rec
            model = getattr(train, CLASSES[name])()
            model.eval()
            print("== %s: weights: %s" % (name, load_onnx_weights(model, path)), flush=True)

            fp32, logits = top1_of(train, model, x_test, y_test)
            row["fp32_top1"] = fp32
            if x_test.shape[0] == 10000:
                row["fp32_matches_record"] = abs(fp32 - rec) < 0.005
                if not row["fp32_matches_record"]:
                    failed = True
                    print("  !! fp32 top-1 %.2f differs from models.json %.2f" % (fp32, rec), flush=True)
            if not args.no_onnx_check:
                _, onnx_logits = top1_of(train, train.OnnxGraphRunner(path), x_test, y_test)
                diff = (onnx_logits - logits).abs().max().item()
                agree = int((onnx_logits.argmax(1) == logits.argmax(1)).sum().item())
                row["onnx_max_abs_logit_diff"] = float("%.3g" % diff)
                print("  fp32 top-1 %.2f (recorded %.2f); vs the .onnx graph: max|dlogit| %.2e, "
                      "argmax agrees on %d/%d" % (fp32, rec, diff, agree, x_test.shape[0]), flush=True)
                if diff > 1e-4 or agree != x_test.shape[0]:
                    failed = True
                    print("  !! torch model does not reproduce the .onnx graph", flush=True)
            row["fp32_seconds"] = round(time.time() - t0, 1)

            t1 = time.time()
            mode, qmodel, ops, fx_error = args.mode, None, None, None
            if mode in ("auto", "fx"):
                try:
                    qmodel, ops = quantize_fx(model, engine, calib_x, args.calib_batch, train.normalize)
                    mode = "fx"
                except Exception as e:  # noqa: BLE001  FX tracing/conversion can fail many ways
                    if args.mode == "fx":
                        raise
                    fx_error = "%s: %s" % (type(e).__name__, e)
                    print("  FX mode failed (%s); trying eager mode" % fx_error, flush=True)
            if qmodel is None:
                model = getattr(train, CLASSES[name])()
                model.eval()
                load_onnx_weights(model, path)
                qmodel, ops = quantize_eager(model, engine, calib_x, args.calib_batch, train.normalize)
                mode = "eager"
            row["quantize_seconds"] = round(time.time() - t1, 1)
            t2 = time.time()
            int8, qlogits = top1_of(train, qmodel, x_test, y_test)
            row["eval_int8_seconds"] = round(time.time() - t2, 1)
            row.update(int8_top1=int8, mode=mode, float_ops=ops)
            # Closeness to the float model, far less noisy than top-1 on one test set: argmax
            # agreement and KL(softmax(float) || softmax(int8)), as quantscope-cli eval reports.
            lp = torch.log_softmax(logits.double(), 1)
            lq = torch.log_softmax(qlogits.double(), 1)
            top = qlogits.topk(1, dim=1).indices[:, 0]  # ties in int8 logits: as top-1 counts them
            row["int8_agreement"] = round(100.0 * (top == logits.argmax(1)).double().mean().item(), 2)
            row["int8_kl"] = (lp.exp() * (lp - lq)).sum(1).mean().item()
            if fx_error:
                row["fx_error"] = fx_error
            print("  int8 top-1 %.2f, agreement with fp32 %.2f %%, KL %.2e (%s mode, %s); stayed float: %s; "
                  "quantize %.1fs, int8 eval %.1fs"
                  % (int8, row["int8_agreement"], row["int8_kl"], mode, engine, fmt_ops(ops),
                     row["quantize_seconds"], row["eval_int8_seconds"]), flush=True)
        except Exception as e:  # noqa: BLE001  report and go on with the next model
            failed = True
            row["error"] = "%s: %s" % (type(e).__name__, e)
            print("  !! %s failed: %s" % (name, row["error"]), flush=True)

        if args.quantscope:
            t3 = time.time()
            path = os.path.join(MODELS_DIR, recorded.get(name, {}).get("file", name + ".onnx"))
            with tempfile.TemporaryDirectory(prefix="torch_ptq_in_") as tmp_in:
                inputs_npy = os.path.join(tmp_in, "x.npy")
                np.save(inputs_npy, train.normalize(x_test).numpy().astype(np.float32))
                qs_eval, note = run_quantscope(args.quantscope, path, args.calib,
                                               args.quantscope_timeout, args.qs_calib, inputs_npy)
            if qs_eval is not None and "logits" in qs_eval and qlogits is not None:
                # Paired on the same images (McNemar): which one is right where they differ.
                ours = torch.from_numpy(qs_eval.pop("logits")).argmax(1) == y_test
                # torch's int8 logits are dequantized int8 values and tie often: take its top-1
                # the way its top-1 was counted (topk), not argmax, which breaks ties otherwise.
                theirs = qlogits.topk(1, dim=1).indices[:, 0] == y_test
                only_ours = int((ours & ~theirs).sum().item())
                only_torch = int((theirs & ~ours).sum().item())
                z = (only_ours - only_torch) / max(1.0, (only_ours + only_torch) ** 0.5)
                row["paired"] = {"only_quantscope_right": only_ours, "only_torch_right": only_torch,
                                 "z": round(z, 2)}
                verdict = ("no significant difference at 5 %" if abs(z) < 1.96 else
                           "quantscope significantly better" if z > 0 else "torch significantly better")
                print("  paired: right only in quantscope %d, only in torch %d, z = %.2f (%s)"
                      % (only_ours, only_torch, z, verdict), flush=True)
            qs_top1 = float(qs_eval["top1"]) if qs_eval else None
            row["quantscope_int8_top1"], row["quantscope_note"] = qs_top1, note
            if qs_eval:
                row["quantscope_int8_agreement"] = qs_eval.get("agreement")
                row["quantscope_int8_kl"] = qs_eval.get("kl")
            print("  quantscope: %s" % ("int8 top-1 %.2f, agreement %.2f %%, KL %.2e (%.1fs)"
                                        % (qs_top1, qs_eval.get("agreement", -1), qs_eval.get("kl", -1),
                                           time.time() - t3)
                                        if qs_eval else note), flush=True)
        row["seconds"] = round(time.time() - t0, 1)

    total = time.time() - t_all
    print()

    def cell(v, f="%.2f"):
        return f % v if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"

    header = ["model", "fp32 torch", "fp32 recorded", "int8 torch", "delta", "agree torch", "KL torch"]
    if args.quantscope:
        header += ["int8 quantscope", "agree quantscope", "KL quantscope"]
    header += ["backend", "mode", "seconds", "stayed float"]
    table = []
    for r in rows:
        delta = (r["int8_top1"] - r["fp32_top1"]) if r["int8_top1"] is not None and r["fp32_top1"] is not None else None
        line = [r["model"], cell(r["fp32_top1"]), cell(r.get("fp32_top1_recorded")), cell(r["int8_top1"]),
                cell(delta, "%+.2f"), cell(r.get("int8_agreement")), cell(r.get("int8_kl"), "%.2e")]
        if args.quantscope:
            line.append(cell(r.get("quantscope_int8_top1")) if r.get("quantscope_int8_top1") is not None
                        else "skipped" if str(r.get("quantscope_note", "")).startswith("skipped") else "failed")
            line += [cell(r.get("quantscope_int8_agreement")), cell(r.get("quantscope_int8_kl"), "%.2e")]
        line += [r["backend"], r.get("mode", "-"), cell(r.get("seconds"), "%.1f"),
                 fmt_ops(r["float_ops"]) if r["float_ops"] is not None else r.get("error", "-")]
        table.append(line)
    widths = [max(len(h), *(len(l[i]) for l in table)) if table else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for l in table:
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)))
    print("top-1 in %% over %d test images; delta = int8 - fp32 torch (points); agree = argmax agreement "
          "with the fp32 model (%%), KL = mean KL(softmax fp32 || softmax int8); calib = first %d train "
          "images; torch %s, engine %s, %d thread(s); total %.1fs"
          % (x_test.shape[0], calib_x.shape[0], torch.__version__, engine, torch.get_num_threads(), total))
    if engine_note:
        print("note: " + engine_note)

    if args.json:
        out = {"models": rows, "torch_version": torch.__version__, "backend": engine,
               "engine_note": engine_note or None, "threads": torch.get_num_threads(),
               "qconfig": {"activations": "HistogramObserver quint8 per_tensor_affine reduce_range=False",
                           "weights": "PerChannelMinMaxObserver qint8 per_channel_symmetric"},
               "calib_data": "fashion-mnist train, first %d images, batch %d" % (calib_x.shape[0], args.calib_batch),
               "eval_data": "fashion-mnist test, first %d images" % x_test.shape[0],
               "seconds": round(total, 1)}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
        print("wrote " + args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

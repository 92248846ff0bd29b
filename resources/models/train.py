#!/usr/bin/env python3
"""Train the Quantscope reference models on Fashion-MNIST and export them to ONNX.

Run from the repository root (single-threaded, low priority):

    nice -n 10 /usr/bin/python3 resources/models/train.py

Produces, next to this script:
    lenet.onnx        LeNet-style CNN classifier            (opset 13)
    mobilenet.onnx    MobileNet-style depthwise-separable   (opset 14)
    vit.onnx          tiny Vision Transformer               (opset 17)
    autoencoder.onnx  convolutional denoising autoencoder   (opset 13)
    models.json       float32 accuracy / PSNR of the exported models

Requirements: Debian's python3-torch (1.13), python3-onnx (1.12), numpy.
The dataset is read from /usr/share/datasets/fashion-mnist (IDX, gzip) or the
directory named by $FASHION_MNIST_DIR.

Everything is seeded and runs on one CPU thread, so reruns give the same
weights (on the same torch build / CPU).
"""

import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

import onnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

MEAN = 0.2860
STD = 0.3530
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

NOISE_SIGMA = 0.2
TEST_NOISE_SEED = 1234
BATCH = 128
EVAL_BATCH = 1000


# --------------------------------------------------------------------------- data
def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return arr.reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATA_DIR, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, prefix + "-labels-idx1-ubyte.gz"))
    # [N,1,28,28] float32 in [0,1]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def normalize(x):
    return (x - MEAN) / STD


# --------------------------------------------------------------------------- models
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)   # 28x28
        self.conv2 = nn.Conv2d(6, 16, 5)             # 14x14 -> 10x10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 6x14x14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 16x5x5
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class DWSeparable(nn.Module):
    """Depthwise 3x3 (groups=channels) + BN + act, pointwise 1x1 + BN + act."""

    def __init__(self, cin, cout, stride, act):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act1 = act()
        self.act2 = act()

    def forward(self, x):
        x = self.act1(self.bn1(self.dw(x)))
        return self.act2(self.bn2(self.pw(x)))


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False),  # 14x14
            nn.BatchNorm2d(16),
            nn.ReLU6(),
        )
        self.blocks = nn.Sequential(
            DWSeparable(16, 32, 1, nn.ReLU6),        # 14x14
            DWSeparable(32, 64, 2, nn.ReLU6),        # 7x7
            DWSeparable(64, 64, 1, nn.ReLU6),        # 7x7
            DWSeparable(64, 128, 2, nn.Hardswish),   # 4x4
            DWSeparable(128, 128, 1, nn.Hardswish),  # 4x4
            DWSeparable(128, 192, 1, nn.Hardswish),  # 4x4
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(192, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class Attention(nn.Module):
    """Multi-head softmax self-attention with plain matmuls."""

    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.heads = heads
        self.tokens = tokens
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def split_heads(self, t):
        # [N,T,D] -> [N,H,T,hd]; -1 for the batch keeps the Reshape shape constant
        return t.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q = self.split_heads(self.q(x))
        k = self.split_heads(self.k(x))
        v = self.split_heads(self.v(x))
        att = torch.matmul(q, k.transpose(2, 3)) * self.scale   # [N,H,T,T]
        att = torch.softmax(att, dim=-1)
        out = torch.matmul(att, v)                               # [N,H,T,hd]
        out = out.transpose(1, 2).reshape(-1, self.tokens, self.heads * self.head_dim)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim, heads, tokens, mlp_dim):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))  # exact (erf) GELU


class TinyViT(nn.Module):
    def __init__(self, patch=7, dim=64, depth=3, heads=4, mlp_dim=128):
        super().__init__()
        self.tokens = (28 // patch) ** 2
        self.dim = dim
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, self.tokens, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch_embed(x)                                 # [N,D,4,4]
        x = x.reshape(-1, self.dim, self.tokens).transpose(1, 2)  # [N,T,D]
        x = x + self.pos_embed
        x = self.blocks(x)
        x = self.norm(x)
        x = x.mean(dim=1)                                       # mean pooling -> [N,D]
        return self.head(x)


class DenoisingAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 32, 3, stride=2, padding=1)    # 14x14
        self.enc2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)   # 7x7
        self.mid = nn.Conv2d(64, 64, 3, padding=1)              # 7x7
        self.dec1 = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)  # 14x14
        self.dec2 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)  # 28x28
        self.out = nn.Conv2d(16, 1, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.enc1(x))
        x = F.relu(self.enc2(x))
        x = F.relu(self.mid(x))
        x = F.relu(self.dec1(x))
        x = F.relu(self.dec2(x))
        return torch.sigmoid(self.out(x))


# --------------------------------------------------------------------------- training
def count_params(model):
    return sum(p.numel() for p in model.parameters())


def train_classifier(name, model, x_train, y_train, epochs, lr, seed, weight_decay=0.0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / BATCH)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    xn = normalize(x_train)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        t0 = time.time()
        running, seen, correct = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            xb, yb = xn[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
            seen += len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        print("  [%s] epoch %d/%d loss %.4f train-acc %.2f%% (%.1fs)" % (
            name, epoch + 1, epochs, running / seen, 100.0 * correct / seen, time.time() - t0),
            flush=True)


def add_noise(x, sigma, gen):
    return (x + sigma * torch.randn(x.shape, generator=gen)).clamp_(0.0, 1.0)


def train_autoencoder(model, x_train, epochs, lr, seed):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x_train.shape[0]
    steps_per_epoch = math.ceil(n / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        t0 = time.time()
        running, seen = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            clean = x_train[idx]
            noisy = add_noise(clean, NOISE_SIGMA, gen)
            loss = F.mse_loss(model(noisy), clean)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item() * len(idx)
            seen += len(idx)
        print("  [autoencoder] epoch %d/%d mse %.5f (%.1fs)" % (
            epoch + 1, epochs, running / seen, time.time() - t0), flush=True)


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def eval_classifier(fn, x_test, y_test):
    """fn: torch model in eval mode or OnnxGraphRunner. Returns top1 %, top5 %, all logits."""
    top1 = top5 = 0
    outs = []
    for i in range(0, x_test.shape[0], EVAL_BATCH):
        logits = fn(normalize(x_test[i:i + EVAL_BATCH]))
        yb = y_test[i:i + EVAL_BATCH]
        top = logits.topk(5, dim=1).indices
        top1 += (top[:, 0] == yb).sum().item()
        top5 += (top == yb[:, None]).any(dim=1).sum().item()
        outs.append(logits)
    n = x_test.shape[0]
    return top1 * 100.0 / n, top5 * 100.0 / n, torch.cat(outs)


def psnr(mse):
    return 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def eval_autoencoder(fn, x_test):
    """fn: torch model in eval mode or OnnxGraphRunner. Returns metrics dict, all outputs."""
    rng = np.random.default_rng(TEST_NOISE_SEED)
    noise = rng.normal(0.0, NOISE_SIGMA, size=tuple(x_test.shape)).astype(np.float32)
    noisy = (x_test + torch.from_numpy(noise)).clamp(0.0, 1.0)
    se_out = se_in = 0.0
    per_img_out, per_img_in, outs = [], [], []
    for i in range(0, x_test.shape[0], EVAL_BATCH):
        clean = x_test[i:i + EVAL_BATCH].double()
        nb = noisy[i:i + EVAL_BATCH]
        out32 = fn(nb)
        outs.append(out32)
        out = out32.double()
        d_out = ((out - clean) ** 2).flatten(1).mean(1)
        d_in = ((nb.double() - clean) ** 2).flatten(1).mean(1)
        se_out += d_out.sum().item()
        se_in += d_in.sum().item()
        per_img_out.append(d_out)
        per_img_in.append(d_in)
    n = x_test.shape[0]
    per_out = torch.cat(per_img_out)
    per_in = torch.cat(per_img_in)
    return {
        "psnr_db": round(psnr(se_out / n), 4),
        "noisy_psnr_db": round(psnr(se_in / n), 4),
        "mean_image_psnr_db": round((10.0 * torch.log10(1.0 / per_out)).mean().item(), 4),
        "noisy_mean_image_psnr_db": round((10.0 * torch.log10(1.0 / per_in)).mean().item(), 4),
    }, torch.cat(outs)


# --------------------------------------------------------------------------- export
def export(model, name, opset, output_name, meta, doc, **export_kwargs):
    path = os.path.join(HERE, name + ".onnx")
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path,
        input_names=["input"], output_names=[output_name],
        dynamic_axes={"input": {0: "N"}, output_name: {0: "N"}},
        opset_version=opset,
        **export_kwargs,
    )
    m = onnx.load(path)
    m.producer_name = "quantscope-train"
    m.producer_version = torch.__version__
    m.doc_string = doc
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, meta)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    size = os.path.getsize(path)
    if size > 2 * 1024 * 1024:
        raise RuntimeError("%s is %d bytes (> 2 MB)" % (path, size))
    return path


class OnnxGraphRunner:
    """Minimal evaluator of an exported ONNX graph (only the ops these four models use).

    It runs the graph node by node from the .onnx file (weights read back from the file),
    following the ONNX operator definitions, so the recorded numbers also check the export
    itself (no onnxruntime on Debian). Raises NotImplementedError on any other op.
    """

    def __init__(self, path):
        self.model = onnx.load(path)
        from onnx import numpy_helper
        self.weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                        for t in self.model.graph.initializer}
        self.consts = {}
        for node in self.model.graph.node:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = torch.from_numpy(
                    numpy_helper.to_array(node.attribute[0].t).copy())

    @staticmethod
    def _attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    @staticmethod
    def _sym_pads(pads, n):
        pads = list(pads) if pads else [0] * (2 * n)
        if pads[:n] != pads[n:]:
            raise NotImplementedError("asymmetric pads")
        return pads[:n]

    @torch.no_grad()
    def __call__(self, x):
        env = dict(self.weights)
        env.update(self.consts)
        env[self.model.graph.input[0].name] = x
        for node in self.model.graph.node:
            op, a = node.op_type, self._attrs(node)
            i = [env[n] if n else None for n in node.input]
            if op == "Constant":
                continue
            elif op == "Conv":
                y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a.get("strides", 1),
                             padding=self._sym_pads(a.get("pads"), 2), dilation=a.get("dilations", 1),
                             groups=a.get("group", 1))
            elif op == "ConvTranspose":
                y = F.conv_transpose2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a.get("strides", 1),
                                       padding=self._sym_pads(a.get("pads"), 2),
                                       output_padding=a.get("output_padding", 0), groups=a.get("group", 1),
                                       dilation=a.get("dilations", 1))
            elif op == "BatchNormalization":
                if a.get("training_mode", 0):
                    raise NotImplementedError("BatchNormalization training_mode=1")
                sh = [1, -1] + [1] * (i[0].dim() - 2)
                y = ((i[0] - i[3].reshape(sh)) / torch.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5))
                     * i[1].reshape(sh) + i[2].reshape(sh))
            elif op == "Relu":
                y = torch.relu(i[0])
            elif op == "Sigmoid":
                y = torch.sigmoid(i[0])
            elif op == "Clip":
                lo = i[1] if len(i) > 1 and i[1] is not None else None
                hi = i[2] if len(i) > 2 and i[2] is not None else None
                y = torch.clamp(i[0], lo.item() if lo is not None else None, hi.item() if hi is not None else None)
            elif op == "HardSwish":   # x * max(0, min(1, x/6 + 1/2))
                y = i[0] * torch.clamp(i[0] / 6.0 + 0.5, 0.0, 1.0)
            elif op == "MaxPool":
                y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", 1),
                                 self._sym_pads(a.get("pads"), 2), ceil_mode=bool(a.get("ceil_mode", 0)))
            elif op == "GlobalAveragePool":
                y = i[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                ax = a.get("axis", 1)
                y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
            elif op == "Gemm":
                A = i[0].t() if a.get("transA", 0) else i[0]
                B = i[1].t() if a.get("transB", 0) else i[1]
                y = a.get("alpha", 1.0) * (A @ B)
                if len(i) > 2 and i[2] is not None:
                    y = y + a.get("beta", 1.0) * i[2]
            elif op == "MatMul":
                y = torch.matmul(i[0], i[1])
            elif op == "Add":
                y = i[0] + i[1]
            elif op == "Mul":
                y = i[0] * i[1]
            elif op == "Div":
                y = i[0] / i[1]
            elif op == "Erf":
                y = torch.erf(i[0])
            elif op == "Softmax":
                y = torch.softmax(i[0], a.get("axis", -1))
            elif op == "LayerNormalization":
                ax = a.get("axis", -1) % i[0].dim()
                y = F.layer_norm(i[0], i[0].shape[ax:], i[1], i[2] if len(i) > 2 else None, a.get("epsilon", 1e-5))
            elif op == "Reshape":
                shape = [i[0].shape[k] if (d == 0 and not a.get("allowzero", 0)) else d
                         for k, d in enumerate(i[1].tolist())]
                y = i[0].reshape(shape)
            elif op == "Transpose":
                y = i[0].permute(*a["perm"])
            elif op == "ReduceMean":
                y = i[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))
            elif op == "Identity":
                y = i[0]
            else:
                raise NotImplementedError(op)
            env[node.output[0]] = y
        return env[self.model.graph.output[0].name]


def classifier_meta():
    return {
        "quantscope.preprocess": json.dumps({"mean": [MEAN], "std": [STD], "layout": "NCHW",
                                             "height": 28, "width": 28, "channels": 1}),
        "quantscope.task": "classification",
        "quantscope.labels": json.dumps(LABELS),
    }


def autoencoder_meta():
    return {
        "quantscope.preprocess": json.dumps({"mean": [0.0], "std": [1.0], "layout": "NCHW",
                                             "height": 28, "width": 28, "channels": 1}),
        "quantscope.task": "image-to-image",
    }


# --------------------------------------------------------------------------- main
def main():
    t_start = time.time()
    np.random.seed(0)
    torch.manual_seed(0)
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")
    print("train %s test %s" % (tuple(x_train.shape), tuple(x_test.shape)), flush=True)

    results = {}
    doc_pre = ("Input: float32 [N,1,28,28], Fashion-MNIST pixels /255 then (x-%.4f)/%.4f. " % (MEAN, STD))

    specs = [
        # name, ctor, opset, epochs, lr, weight decay, export kwargs, doc
        ("lenet", LeNet, 13, 4, 3e-3, 0.0, {},
         "LeNet-style CNN (conv-relu-maxpool x2, 3 Gemm layers). " + doc_pre + "Output: logits [N,10]."),
        ("mobilenet", MobileNet, 14, 4, 4e-3, 1e-4,
         # keep BatchNormalization nodes: PRESERVE skips the eval-mode Conv+BN fusion pass;
         # the model itself is in eval() so BN uses its running statistics.
         {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False},
         "MobileNet-style CNN (depthwise-separable blocks, BatchNorm, ReLU6, HardSwish, "
         "global average pool, linear head). " + doc_pre + "Output: logits [N,10]."),
        ("vit", TinyViT, 17, 6, 2e-3, 0.05, {},
         "Tiny ViT (7x7 patches -> 16 tokens, dim 64, 3 pre-LN blocks, 4 heads, erf GELU MLP, "
         "mean pooling, LayerNorm, linear head). " + doc_pre + "Output: logits [N,10]."),
    ]

    for name, ctor, opset, epochs, lr, wd, kw, doc in specs:
        torch.manual_seed(1000 + len(results))
        model = ctor()
        params = count_params(model)
        print("== %s (%d params, %d epochs)" % (name, params, epochs), flush=True)
        t0 = time.time()
        train_classifier(name, model, x_train, y_train, epochs, lr, seed=2000 + len(results),
                         weight_decay=wd)
        train_s = time.time() - t0
        model.eval()
        path = export(model, name, opset, "logits", classifier_meta(), doc, **kw)
        top1, top5, logits = eval_classifier(model, x_test, y_test)
        print("  [%s] test top1 %.2f%% top5 %.2f%%" % (name, top1, top5), flush=True)
        o_top1, o_top5, o_logits = eval_classifier(OnnxGraphRunner(path), x_test, y_test)
        max_diff = (o_logits - logits).abs().max().item()
        argmax_agree = (o_logits.argmax(1) == logits.argmax(1)).sum().item()
        print("  [%s] exported graph: top1 %.2f%% top5 %.2f%% max|dlogit| %.2e" % (
            name, o_top1, o_top5, max_diff), flush=True)
        results[name] = {
            "file": name + ".onnx", "task": "classification", "opset": opset,
            "top1": top1, "top5": top5, "test_samples": int(x_test.shape[0]),
            "epochs": epochs, "params": params, "train_seconds": round(train_s, 1),
            "onnx_graph_check": {"top1": o_top1, "top5": o_top5, "max_abs_logit_diff": float("%.3g" % max_diff),
                                 "argmax_agreement": argmax_agree},
        }

    name = "autoencoder"
    torch.manual_seed(1003)
    model = DenoisingAE()
    params = count_params(model)
    epochs = 3
    print("== %s (%d params, %d epochs)" % (name, params, epochs), flush=True)
    t0 = time.time()
    train_autoencoder(model, x_train, epochs, 3e-3, seed=2003)
    train_s = time.time() - t0
    model.eval()
    path = export(model, name, 13, "output", autoencoder_meta(),
           "Convolutional denoising autoencoder (2 strided convs, conv, 2 ConvTranspose, conv, sigmoid). "
           "Input: noisy image float32 [N,1,28,28] in [0,1] (no normalization). "
           "Output: denoised image [N,1,28,28] in [0,1]. Trained on Gaussian noise sigma %.1f, "
           "clipped to [0,1]." % NOISE_SIGMA)
    ae, outputs = eval_autoencoder(model, x_test)
    o_ae, o_outputs = eval_autoencoder(OnnxGraphRunner(path), x_test)
    ae_diff = (o_outputs - outputs).abs().max().item()
    print("  [%s] exported graph: PSNR %.2f dB, max|diff| %.2e" % (name, o_ae["psnr_db"], ae_diff), flush=True)
    print("  [%s] test PSNR %.2f dB (noisy input %.2f dB)" % (name, ae["psnr_db"], ae["noisy_psnr_db"]),
          flush=True)
    results[name] = dict({"file": name + ".onnx", "task": "image-to-image", "opset": 13}, **ae)
    results[name].update({
        "psnr_definition": "10*log10(1/MSE), MSE over all pixels of the 10000 test images, peak 1.0; "
                           "mean_image_* averages the per-image PSNR",
        "noise_sigma": NOISE_SIGMA, "noise_seed": TEST_NOISE_SEED,
        "noise_generator": "numpy.random.default_rng(noise_seed).normal(0, noise_sigma, [10000,1,28,28]) "
                           "as float32, added to the clean [0,1] images in test-file order, clipped to [0,1]",
        "test_samples": int(x_test.shape[0]), "epochs": epochs, "params": params,
        "train_seconds": round(train_s, 1),
        "onnx_graph_check": {"psnr_db": o_ae["psnr_db"], "max_abs_diff": float("%.3g" % ae_diff)},
    })

    info = {
        "generated_by": "train.py",
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "dataset": "fashion-mnist:test",
        "precision": "float32, torch eval mode, batch %d" % EVAL_BATCH,
        "onnx_graph_check": "the same metrics from running the exported .onnx graph node by node with "
                            "train.py's OnnxGraphRunner (torch ops, float32), and the largest difference "
                            "to the torch model's outputs",
        "preprocess": {"classifiers": {"mean": MEAN, "std": STD}, "autoencoder": {"mean": 0.0, "std": 1.0}},
        "models": results,
    }
    # train_lm.py's record of the bundled decoder stays.
    manifest = os.path.join(HERE, "models.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            previous = json.load(f)
        if "language_models" in previous:
            info["language_models"] = previous["language_models"]
    with open(manifest, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("total %.1fs" % (time.time() - t_start), flush=True)


if __name__ == "__main__":
    sys.exit(main())

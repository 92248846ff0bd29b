"""A Llama-style decoder (RMSNorm, rotary position embeddings, causal grouped-query attention,
SwiGLU MLP, tied embeddings) as torch.onnx exports it at opsets 14 and 17 with a dynamic batch
and sequence: Quantscope's logits against PyTorch's, computed here, on cpu-ref and cpu-onednn;
every RMSNorm fused into one node, and every node on cpu-onednn; ONNX Runtime on the same file where
the peer is installed."""
import math
import os
import unittest
import warnings

import numpy as np

from cli_util import TempDir, peer_available, run_cli, run_ort

try:
    import torch
except ImportError:  # the test needs torch only to write the models
    torch = None

VOCAB, WIDTH, HEADS, KV_HEADS, LAYERS = 64, 32, 4, 2, 2


class RmsNorm(torch.nn.Module if torch else object):
    def __init__(self, width):
        super().__init__()
        self.weight = torch.nn.Parameter(1.0 + 0.1 * torch.randn(width))

    def forward(self, x):
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-6)
        return self.weight * x32.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def repeat_kv(x):
    """Each KV head shared by HEADS // KV_HEADS query heads, as Hugging Face's Llama writes it
    (torch.repeat_interleave would export as a Loop over tensor sequences)."""
    b, kv, s, d = x.shape
    n = HEADS // KV_HEADS
    return x[:, :, None, :, :].expand(b, kv, n, s, d).reshape(b, kv * n, s, d)


class Block(torch.nn.Module if torch else object):
    def __init__(self):
        super().__init__()
        self.head_dim = WIDTH // HEADS
        self.norm1, self.norm2 = RmsNorm(WIDTH), RmsNorm(WIDTH)
        self.q = torch.nn.Linear(WIDTH, HEADS * self.head_dim, bias=False)
        self.k = torch.nn.Linear(WIDTH, KV_HEADS * self.head_dim, bias=False)
        self.v = torch.nn.Linear(WIDTH, KV_HEADS * self.head_dim, bias=False)
        self.o = torch.nn.Linear(WIDTH, WIDTH, bias=False)
        self.gate = torch.nn.Linear(WIDTH, 2 * WIDTH, bias=False)
        self.up = torch.nn.Linear(WIDTH, 2 * WIDTH, bias=False)
        self.down = torch.nn.Linear(2 * WIDTH, WIDTH, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, s, HEADS, self.head_dim).transpose(1, 2)
        k = self.k(h).view(b, s, KV_HEADS, self.head_dim).transpose(1, 2)
        v = self.v(h).view(b, s, KV_HEADS, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k), repeat_kv(v)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + self.o(attn.transpose(1, 2).reshape(b, s, WIDTH))
        h = self.norm2(x)
        return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))


class Decoder(torch.nn.Module if torch else object):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, WIDTH)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = RmsNorm(WIDTH)

    def forward(self, input_ids):
        s = input_ids.shape[1]
        head_dim = WIDTH // HEADS
        inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.arange(s, dtype=torch.float32)[:, None] * inv[None, :]
        angles = torch.cat((angles, angles), dim=-1)
        cos, sin = angles.cos()[None, None], angles.sin()[None, None]
        mask = torch.full((s, s), float("-inf")).triu(1)[None, None]
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        return self.norm(x) @ self.embed.weight.t()


@unittest.skipUnless(torch is not None, "skipped 'python3-torch is not installed'")
class DecoderExports(unittest.TestCase):
    def test_llama_style_decoder_matches_pytorch(self):
        torch.manual_seed(0)
        model = Decoder().eval()
        for opset in (14, 17):
            with self.subTest(opset=opset), TempDir() as d:
                path = os.path.join(d, f"decoder{opset}.onnx")
                with warnings.catch_warnings():  # torch's tracer notes
                    warnings.simplefilter("ignore")
                    torch.onnx.export(model, torch.zeros(1, 5, dtype=torch.int64), path,
                                      opset_version=opset, input_names=["input_ids"],
                                      output_names=["logits"],
                                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}})
                _, info, _ = run_cli("info", path, "--device", "cpu-onednn")
                norms = [line for line in info.splitlines()
                         if line.startswith("/") and " RMSNormalization" in line]
                self.assertEqual(len(norms), 2 * LAYERS + 1, info)
                for line in norms:
                    self.assertIn("cpu-onednn", line)
                # The embedding's Gather by token ids and the KV heads' Expand included.
                self.assertIn("every node runs on cpu-onednn", info)
                for batch, seq in ((1, 5), (2, 9)):  # the second length differs from the export's
                    ids = np.random.default_rng(seq).integers(0, VOCAB, (batch, seq))
                    np.save(os.path.join(d, "ids.npy"), ids.astype(np.int64))
                    with torch.no_grad():
                        want = model(torch.from_numpy(ids)).numpy()
                    for device in ("cpu-ref", "cpu-onednn"):
                        out = os.path.join(d, f"logits-{device}.npy")
                        run_cli("run", path, "--input", os.path.join(d, "ids.npy"), "--output",
                                out, "--device", device)
                        np.testing.assert_allclose(np.load(out), want, rtol=1e-4, atol=1e-4,
                                                   err_msg=f"opset {opset} {device} seq {seq}")
                    if peer_available():
                        ort = run_ort(path, {"input_ids": os.path.join(d, "ids.npy")},
                                      os.path.join(d, "ort"))
                        np.testing.assert_allclose(np.load(os.path.join(ort, "logits.npy")), want,
                                                   rtol=1e-4, atol=1e-4)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""A decoder of another family, exported as Hugging Face exports GPT-2, for testing that
Quantscope takes decoders unlike its own: GPT-2's architecture written out in PyTorch (learned
position embeddings, LayerNorm, one fused q/k/v projection split three ways, GELU in its tanh
form, four attention heads without grouping, a causal mask sliced from a constant lower-triangular
buffer and filled with the float minimum, the padding mask added, the LM head tied to the token
embedding) with GPT-2's 50,257-token vocabulary, small (2 blocks of width 64) and with fixed
random weights. Exported by torch.onnx at opset 13 (LayerNorm and GELU decomposed) in Optimum's
layout with a cache, into ~/.cache/quantscope/zoo/gpt2-tiny/ beside a copy of GPT-2's published
tokenizer.json (from npm, tests/peer), so that its tokenizer is found beside it. Made once.

usage: gpt2_decoder.py --tokenizer-dir DIR [--out DIR]   prints {"model": PATH} as JSON
Exits 77 when PyTorch or onnx is not installed (Debian's python3-torch, python3-onnx).
"""
import argparse
import json
import math
import os
import shutil
import sys
import warnings

try:
    import onnx
    import torch
except ImportError as e:
    print(f"skipped: {e}", file=sys.stderr)
    sys.exit(77)

VOCAB, POSITIONS, WIDTH, HEADS, LAYERS = 50257, 256, 64, 4, 2
HEAD_DIM = WIDTH // HEADS


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = torch.nn.Linear(WIDTH, 3 * WIDTH)
        self.c_proj = torch.nn.Linear(WIDTH, WIDTH)
        self.register_buffer("bias", torch.tril(torch.ones(POSITIONS, POSITIONS, dtype=torch.bool))
                             .view(1, 1, POSITIONS, POSITIONS))

    def heads(self, t):
        b, s, _ = t.shape
        return t.view(b, s, HEADS, HEAD_DIM).permute(0, 2, 1, 3)

    def forward(self, x, padding, past_k, past_v):
        q, k, v = self.c_attn(x).split(WIDTH, dim=2)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        k = torch.cat((past_k, k), dim=-2)
        v = torch.cat((past_v, v), dim=-2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD_DIM)
        query_len, key_len = q.size(-2), k.size(-2)
        causal = self.bias[:, :, key_len - query_len:key_len, :key_len]
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = torch.softmax(w + padding, dim=-1)
        out = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        out = out.view(out.size(0), out.size(1), WIDTH)
        return self.c_proj(out), k, v


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(WIDTH)
        self.attn = Attention()
        self.ln_2 = torch.nn.LayerNorm(WIDTH)
        self.c_fc = torch.nn.Linear(WIDTH, 4 * WIDTH)
        self.c_proj = torch.nn.Linear(4 * WIDTH, WIDTH)

    def forward(self, x, padding, past_k, past_v):
        a, k, v = self.attn(self.ln_1(x), padding, past_k, past_v)
        x = x + a
        x = x + self.c_proj(gelu_tanh(self.c_fc(self.ln_2(x))))
        return x, k, v


class Gpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, WIDTH)
        self.wpe = torch.nn.Embedding(POSITIONS, WIDTH)
        self.h = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = torch.nn.LayerNorm(WIDTH)

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        # The padding mask as GPT-2 applies it: added, with the float minimum where it is 0.
        padding = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * \
            torch.finfo(torch.float32).min
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, block in enumerate(self.h):
            x, k, v = block(x, padding, past_flat[2 * i], past_flat[2 * i + 1])
            presents += [k, v]
        logits = self.ln_f(x) @ self.wte.weight.t()
        return (logits, *presents)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer-dir", required=True,
                    help="holds GPT-2's tokenizer.json and tokenizer_config.json")
    ap.add_argument("--out", default=os.path.join(os.path.expanduser("~"), ".cache", "quantscope",
                                                  "zoo", "gpt2-tiny"))
    args = ap.parse_args()
    path = os.path.join(args.out, "model.onnx")
    if not os.path.exists(path):
        os.makedirs(args.out, exist_ok=True)
        torch.manual_seed(2024)
        model = Gpt2().eval()
        with torch.no_grad():
            # Wider than GPT-2's N(0, 0.02), so that untrained it does not repeat one token:
            # greedy text then takes many different paths through the model.
            for name, p in model.named_parameters():
                if name.endswith("weight") and p.dim() == 2:
                    p.normal_(0.0, 0.3)
        b, s, p = 1, 3, 4
        past, names_in, names_out = [], ["input_ids", "attention_mask", "position_ids"], ["logits"]
        axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
                "position_ids": {0: "batch_size", 1: "sequence_length"},
                "logits": {0: "batch_size", 1: "sequence_length"}}
        for i in range(LAYERS):
            for kind in ("key", "value"):
                past.append(torch.randn(b, HEADS, p, HEAD_DIM))
                names_in.append(f"past_key_values.{i}.{kind}")
                names_out.append(f"present.{i}.{kind}")
                axes[names_in[-1]] = {0: "batch_size", 2: "past_sequence_length"}
                axes[names_out[-1]] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
        inputs = (torch.randint(0, VOCAB, (b, s)), torch.ones(b, p + s, dtype=torch.int64),
                  torch.arange(p, p + s)[None], *past)
        tmp = path + ".tmp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, inputs, tmp, opset_version=13, input_names=names_in,
                              output_names=names_out, dynamic_axes=axes, do_constant_folding=True)
        m = onnx.load(tmp)
        m.producer_name = "quantscope-tests-gpt2-tiny"
        onnx.save(m, tmp)
        os.replace(tmp, path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(args.tokenizer_dir, name), os.path.join(args.out, name))
    print(json.dumps({"model": path}))


if __name__ == "__main__":
    main()

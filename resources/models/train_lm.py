#!/usr/bin/python3
"""Trains the bundled language model: a small Llama-style decoder on the King James Bible.

Run offline, never at build or test time (Debian's python3-torch, python3-sentencepiece and
python3-onnx; the text from Debian's bible-kjv-text through the `bible` program of bible-kjv):

    /usr/bin/python3 resources/models/train_lm.py [--minutes M] [--threads T] [--out DIR]

Writes into DIR (default resources/models/decoder):

    tokenizer.model   SentencePiece BPE, 4096 tokens, trained on the train split only
    decoder.onnx      the decoder with a key/value cache, in the layout Hugging Face Optimum
                      exports decoders with (below), opset 14, float32
    decoder.json      the architecture, the splits, the training run and PyTorch's perplexity
                      on the validation and test splits (also under "language_models" in
                      resources/models/models.json)
    test.txt          the test split's text, one chapter per line (what the perplexity is of)

The corpus: the 1,189 chapters of the King James Version are the documents; chapter k (in
canonical order, from 0) goes to the validation split when k % 20 == 7, to the test split when
k % 20 == 13, and to the train split otherwise. A chapter's text is its verses joined by spaces,
without the verse numbers.

The model (about 7.8 M parameters): token embedding 4096 x 320 tied with the output projection;
6 pre-norm blocks of RMSNorm, grouped-query attention (8 query heads, 2 key/value heads, head
size 40, rotary position embeddings on the full head, base 10000), RMSNorm and a SwiGLU MLP
(hidden 864); a final RMSNorm. No biases. Context 256 tokens.

The ONNX layout (Optimum's "decoder with past"):
    inputs   input_ids [batch, sequence] int64, attention_mask [batch, past + sequence] int64,
             position_ids [batch, sequence] int64, past_key_values.{i}.key and .value
             [batch, 2, past, 40] float32 for i in 0..5
    outputs  logits [batch, sequence, 4096], present.{i}.key and .value [batch, 2, past +
             sequence, 40] (the past with this step's keys and values appended)
A first step feeds a past of length 0.

Perplexity: the test split's chapters, each tokenized with a leading <s>, concatenated in order;
cut into windows of 256 tokens with a stride of 256 (the last window shorter); every token of a
window but its first is predicted from those before it in the window; the perplexity is
exp(mean negative log-likelihood) over all predicted tokens.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

VOCAB = 4096
WIDTH = 320
LAYERS = 6
HEADS = 8
KV_HEADS = 2
HEAD_DIM = WIDTH // HEADS
HIDDEN = 864
CONTEXT = 256
ROPE_BASE = 10000.0
NORM_EPS = 1e-5
OPSET = 14


# --- The corpus -----------------------------------------------------------------------------

def read_chapters():
    """The chapters of the KJV in canonical order: a list of (name, text)."""
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True,
                         check=True).stdout
    chapters, current, verses = [], None, []
    for line in out.splitlines():
        if not line.strip():
            continue
        ref, _, text = line.partition(" ")
        chapter = ref.rsplit(":", 1)[0]  # "Ge1"
        if chapter != current:
            if verses:
                chapters.append((current, " ".join(verses)))
            current, verses = chapter, []
        verses.append(text.strip())
    if verses:
        chapters.append((current, " ".join(verses)))
    return chapters


def split_of(k):
    return "validation" if k % 20 == 7 else "test" if k % 20 == 13 else "train"


# --- The tokenizer --------------------------------------------------------------------------

def train_tokenizer(train_texts, prefix):
    import sentencepiece as spm
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for text in train_texts:
            f.write(text + "\n")
        corpus = f.name
    try:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=VOCAB, model_type="bpe",
            character_coverage=1.0, byte_fallback=True, pad_id=-1, unk_id=0, bos_id=1, eos_id=2,
            max_sentence_length=1 << 16, num_threads=2, minloglevel=2)
    finally:
        os.unlink(corpus)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


# --- The model ------------------------------------------------------------------------------

class RmsNorm(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(width))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def repeat_kv(x):
    """Each key/value head shared by HEADS // KV_HEADS query heads, as Hugging Face's Llama
    writes it (repeat_interleave would export as a Loop)."""
    b, kv, s, d = x.shape
    n = HEADS // KV_HEADS
    return x[:, :, None, :, :].expand(b, kv, n, s, d).reshape(b, kv * n, s, d)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm, self.mlp_norm = RmsNorm(WIDTH), RmsNorm(WIDTH)
        self.q_proj = torch.nn.Linear(WIDTH, HEADS * HEAD_DIM, bias=False)
        self.k_proj = torch.nn.Linear(WIDTH, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = torch.nn.Linear(WIDTH, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = torch.nn.Linear(HEADS * HEAD_DIM, WIDTH, bias=False)
        self.gate_proj = torch.nn.Linear(WIDTH, HIDDEN, bias=False)
        self.up_proj = torch.nn.Linear(WIDTH, HIDDEN, bias=False)
        self.down_proj = torch.nn.Linear(HIDDEN, WIDTH, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, s, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_proj(h).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(h).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(h).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat((past_k, k), dim=2)
            v = torch.cat((past_v, v), dim=2)
        present = (k, v)
        scores = q @ repeat_kv(k).transpose(2, 3) / math.sqrt(HEAD_DIM) + mask
        attn = torch.softmax(scores, dim=-1) @ repeat_kv(v)
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM))
        h = self.mlp_norm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)), present


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(VOCAB, WIDTH)
        self.layers = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = RmsNorm(WIDTH)
        inv = 1.0 / (ROPE_BASE ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
        self.register_buffer("inv_freq", inv, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
                if name.endswith(("o_proj.weight", "down_proj.weight")):
                    p.data /= math.sqrt(2 * LAYERS)

    def rotary(self, position_ids):
        angles = position_ids[..., None].to(torch.float32) * self.inv_freq  # [b, s, d/2]
        angles = torch.cat((angles, angles), dim=-1)[:, None]                 # [b, 1, s, d]
        return angles.cos(), angles.sin()

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None):
        """Logits, and the keys and values of every layer (past included) when `past` is given
        (a list of (key, value) per layer, possibly of length 0)."""
        b, s = input_ids.shape
        p = past[0][0].shape[2] if past is not None else 0
        if position_ids is None:
            position_ids = torch.arange(p, p + s)[None].expand(b, s)
        cos, sin = self.rotary(position_ids)
        # Query i (at position p + i) sees the keys 0..p+i that the attention mask keeps.
        causal = torch.arange(p + s)[None, :] <= (torch.arange(s) + p)[:, None]  # [s, p+s]
        allowed = causal[None, None]
        if attention_mask is not None:
            allowed = allowed & (attention_mask[:, None, None, :] > 0)
        mask = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(
            ~allowed, torch.finfo(torch.float32).min)
        x = self.embed_tokens(input_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = past[i] if past is not None else (None, None)
            x, kv = layer(x, cos, sin, mask, pk, pv)
            presents.append(kv)
        logits = self.norm(x) @ self.embed_tokens.weight.t()
        return logits, presents


class WithPast(torch.nn.Module):
    """The decoder with Optimum's flat inputs and outputs, for the export."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(LAYERS)]
        logits, presents = self.decoder(input_ids, attention_mask, position_ids, past)
        return (logits, *[t for kv in presents for t in kv])


# --- Training and evaluation ----------------------------------------------------------------

def stream(sp, texts):
    ids = []
    for text in texts:
        ids.append(sp.bos_id())
        ids.extend(sp.encode(text))
    return torch.tensor(ids, dtype=torch.int64)


@torch.no_grad()
def perplexity(model, ids):
    """exp(mean NLL) over windows of CONTEXT tokens with a stride of CONTEXT (see the top)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, CONTEXT):
        window = ids[start:start + CONTEXT][None]
        if window.shape[1] < 2:
            break
        logits, _ = model(window)
        nll = F.cross_entropy(logits[0, :-1].double(), window[0, 1:], reduction="sum")
        total += nll.item()
        count += window.shape[1] - 1
    return math.exp(total / count), count


def train(model, train_ids, minutes, batch, lr, log):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    rng = random.Random(0)
    start = time.time()
    budget = 60.0 * minutes
    step, tokens = 0, 0
    model.train()
    while True:
        elapsed = time.time() - start
        if elapsed >= budget:
            break
        # Linear warm-up over the first 3 % of the time, then cosine decay to 10 %.
        frac = elapsed / budget
        scale = frac / 0.03 if frac < 0.03 else 0.1 + 0.45 * (1 + math.cos(math.pi * frac))
        for group in optimizer.param_groups:
            group["lr"] = lr * scale
        offsets = [rng.randrange(0, len(train_ids) - CONTEXT - 1) for _ in range(batch)]
        x = torch.stack([train_ids[o:o + CONTEXT] for o in offsets])
        y = torch.stack([train_ids[o + 1:o + CONTEXT + 1] for o in offsets])
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens += batch * CONTEXT
        if step % 50 == 0:
            log(f"step {step}  {elapsed / 60:5.1f} min  loss {loss.item():.3f}  "
                f"lr {lr * scale:.2e}  {tokens / elapsed:,.0f} tokens/s")
    return step, tokens, time.time() - start


def export(model, path):
    wrapped = WithPast(model).eval()
    b, s, p = 1, 3, 4
    past = []
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(LAYERS):
        for kind in ("key", "value"):
            past.append(torch.randn(b, KV_HEADS, p, HEAD_DIM))
            name_in, name_out = f"past_key_values.{i}.{kind}", f"present.{i}.{kind}"
            names_in.append(name_in)
            names_out.append(name_out)
            axes[name_in] = {0: "batch_size", 2: "past_sequence_length"}
            axes[name_out] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    ids = torch.randint(0, VOCAB, (b, s))
    mask = torch.ones(b, p + s, dtype=torch.int64)
    positions = torch.arange(p, p + s)[None]
    with warnings.catch_warnings():  # the tracer's notes on shape arithmetic
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, (ids, mask, positions, *past), path, opset_version=OPSET,
                          input_names=names_in, output_names=names_out, dynamic_axes=axes,
                          do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    m.producer_name = "quantscope-train-lm"
    m.doc_string = ("A Llama-style decoder (7.8 M parameters) trained on the King James Bible; "
                    "see resources/models/README.md.")
    for key, value in (("quantscope.task", "text-generation"),
                       ("quantscope.tokenizer", "tokenizer.model"),
                       ("quantscope.context", str(CONTEXT))):
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(m, path)


def check_cache(model):
    """The cache path gives the logits of the full sequence, token by token."""
    model.eval()
    ids = torch.randint(0, VOCAB, (2, 12))
    with torch.no_grad():
        full, _ = model(ids)
        past = [(torch.zeros(2, KV_HEADS, 0, HEAD_DIM), torch.zeros(2, KV_HEADS, 0, HEAD_DIM))
                for _ in range(LAYERS)]
        steps = []
        for t in range(12):
            mask = torch.ones(2, t + 1, dtype=torch.int64)
            logits, past = model(ids[:, t:t + 1], mask, torch.full((2, 1), t), past)
            steps.append(logits)
    return (torch.cat(steps, dim=1) - full).abs().max().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=40.0, help="training time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", default=os.path.join(HERE, "decoder"))
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    def log(text):
        print(text, flush=True)

    chapters = read_chapters()
    splits = {"train": [], "validation": [], "test": []}
    for k, (_, text) in enumerate(chapters):
        splits[split_of(k)].append(text)
    log(f"{len(chapters)} chapters: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    sp = train_tokenizer(splits["train"], os.path.join(args.out, "tokenizer"))
    os.unlink(os.path.join(args.out, "tokenizer.vocab"))
    ids = {k: stream(sp, v) for k, v in splits.items()}
    log("tokens: " + ", ".join(f"{k} {len(v):,}" for k, v in ids.items()))
    with open(os.path.join(args.out, "test.txt"), "w") as f:
        for text in splits["test"]:
            f.write(text + "\n")

    model = Decoder()
    params = sum(p.numel() for p in model.parameters())
    log(f"{params:,} parameters")
    steps, tokens, seconds = train(model, ids["train"], args.minutes, args.batch, args.lr, log)
    valid_ppl, valid_n = perplexity(model, ids["validation"])
    test_ppl, test_n = perplexity(model, ids["test"])
    log(f"perplexity: validation {valid_ppl:.4f} ({valid_n} tokens), test {test_ppl:.4f} "
        f"({test_n} tokens)")
    cache_error = check_cache(model)
    log(f"cache path vs full sequence: largest logit difference {cache_error:.2e}")

    path = os.path.join(args.out, "decoder.onnx")
    export(model, path)
    record = {
        "generated_by": "train_lm.py",
        "torch_version": torch.__version__,
        "corpus": "King James Version (Debian package bible-kjv-text, text through bible-kjv's "
                  "`bible -f Gen1:1-Rev22:21`)",
        "splits": {k: {"chapters": len(splits[k]), "tokens": len(ids[k])} for k in splits},
        "split_rule": "chapter k (canonical order, from 0): validation if k % 20 == 7, test if "
                      "k % 20 == 13, else train",
        "tokenizer": {"file": "tokenizer.model", "type": "SentencePiece BPE", "vocab": VOCAB,
                      "bos": sp.bos_id(), "eos": sp.eos_id(), "unk": sp.unk_id(),
                      "byte_fallback": True},
        "architecture": {"layers": LAYERS, "width": WIDTH, "heads": HEADS,
                         "kv_heads": KV_HEADS, "head_dim": HEAD_DIM, "mlp_hidden": HIDDEN,
                         "norm": "RMSNorm", "norm_eps": NORM_EPS, "rope_base": ROPE_BASE,
                         "tied_embeddings": True, "context": CONTEXT, "params": params},
        "onnx": {"file": "decoder.onnx", "opset": OPSET, "layout": "optimum decoder with past",
                 "bytes": os.path.getsize(path)},
        "training": {"steps": steps, "tokens": tokens, "seconds": round(seconds, 1),
                     "batch": args.batch, "lr": args.lr, "threads": args.threads,
                     "optimizer": "AdamW (0.9, 0.95), weight decay 0.1, clip 1.0, cosine"},
        "perplexity": {"context": CONTEXT, "stride": CONTEXT,
                       "validation": round(valid_ppl, 4), "validation_tokens": valid_n,
                       "test": round(test_ppl, 4), "test_tokens": test_n},
        "cache_check_max_abs": cache_error,
    }
    with open(os.path.join(args.out, "decoder.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    # The perplexity beside the Fashion-MNIST models' accuracy (train.py keeps this entry).
    manifest = os.path.join(HERE, "models.json")
    if os.path.abspath(args.out) == os.path.join(HERE, "decoder") and os.path.exists(manifest):
        with open(manifest) as f:
            info = json.load(f)
        info["language_models"] = {"decoder": {
            "file": "decoder/decoder.onnx", "tokenizer": "decoder/tokenizer.model",
            "task": "text-generation", "opset": OPSET, "params": params, "context": CONTEXT,
            "test_perplexity": round(test_ppl, 4), "test_tokens": test_n,
            "validation_perplexity": round(valid_ppl, 4), "record": "decoder/decoder.json"}}
        with open(manifest, "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

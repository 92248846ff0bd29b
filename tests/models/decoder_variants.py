#!/usr/bin/env python3
"""The bundled decoder exported differently, for testing that Quantscope takes decoders it did
not export itself: the same weights (read back from resources/models/decoder/decoder.onnx into
train_lm.py's PyTorch model) exported by torch.onnx

  nocache   input_ids [batch, sequence] -> logits only, opset 17: no cache, no attention mask
            or position inputs (positions from Range, the causal mask from comparisons and
            Where inside the graph)

into ~/.cache/quantscope/zoo (outside the repository; made once). Before writing, the rebuilt
PyTorch model's perplexity on the test split must equal the one decoder.json records (to 4
significant digits): the weights went back where they came from.

usage: decoder_variants.py [--out DIR]   prints {"nocache": PATH, "perplexity": P} as JSON
Exits 77 when PyTorch or onnx is not installed (Debian's python3-torch, python3-onnx).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DECODER = os.path.join(ROOT, "resources", "models", "decoder")

try:
    import numpy
    import onnx
    import sentencepiece
    import torch
    from onnx import numpy_helper
except ImportError as e:
    print(f"skipped: {e}", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.join(ROOT, "resources", "models"))
import train_lm  # noqa: E402  (the model's definition)


def rebuilt_decoder():
    """train_lm.Decoder with the weights of the bundled ONNX file."""
    m = onnx.load(os.path.join(DECODER, "decoder.onnx"))
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    model = train_lm.Decoder().eval()
    state = model.state_dict()
    for name in state:
        if name in ("embed_tokens.weight", "norm.weight") or name.endswith("norm.weight"):
            state[name] = torch.from_numpy(init["decoder." + name].copy())
    # The projections are MatMul constants (the Linear weights transposed), in the order the
    # forward pass uses them: per block q, k, v, o, gate, up, down; then the tied LM head.
    weights = [init[n.input[1]] for n in m.graph.node
               if n.op_type == "MatMul" and n.input[1] in init]
    per_block = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    projections = [w for w in weights if w.shape != (train_lm.WIDTH, train_lm.VOCAB)]
    if len(projections) != train_lm.LAYERS * len(per_block):
        sys.exit(f"expected {train_lm.LAYERS * len(per_block)} projections, found {len(projections)}")
    for i, w in enumerate(projections):
        name = f"layers.{i // len(per_block)}.{per_block[i % len(per_block)]}.weight"
        state[name] = torch.from_numpy(w.T.copy())
    model.load_state_dict(state)
    return model


def test_stream(sp):
    ids = []
    with open(os.path.join(DECODER, "test.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ids += [sp.bos_id()] + sp.encode(line.rstrip("\n"))
    return torch.tensor(ids, dtype=torch.int64)


class LogitsOnly(torch.nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids):
        return self.decoder(input_ids)[0]


def export_nocache(model, path):
    ids = torch.randint(0, train_lm.VOCAB, (1, 5))
    torch.onnx.export(LogitsOnly(model).eval(), (ids,), path, opset_version=17,
                      input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                                    "logits": {0: "batch_size", 1: "sequence_length"}},
                      do_constant_folding=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(os.path.expanduser("~"), ".cache", "quantscope", "zoo"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "decoder-nocache-opset17.onnx")
    with open(os.path.join(DECODER, "decoder.json")) as f:
        recorded = json.load(f)["perplexity"]["test"]
    if not os.path.exists(path):
        torch.set_num_threads(2)
        model = rebuilt_decoder()
        sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(DECODER, "tokenizer.model"))
        ppl, _ = train_lm.perplexity(model, test_stream(sp))
        if f"{ppl:.4g}" != f"{recorded:.4g}":
            sys.exit(f"the rebuilt model's perplexity {ppl:.4f} is not decoder.json's {recorded}")
        export_nocache(model, path + ".tmp")
        os.replace(path + ".tmp", path)
    print(json.dumps({"nocache": path, "perplexity": recorded}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The foreign-model zoo: torchvision architectures exported by torch.onnx the way people export
them (several opsets, static or dynamic batch, with or without constant folding).

    /usr/bin/python3 tests/models/make_zoo.py [--out DIR] [--only NAME,NAME] [--list]

Writes DIR/NAME.onnx and DIR/NAME.input.npy (one seeded input at the model's batch) for every
model, and DIR/NAME.recipe.json; a model whose recipe has not changed is not exported again.
DIR defaults to $QS_ZOO_DIR, else ~/.cache/quantscope/zoo: the files are large (ViT-B/16 alone
is 330 MB) and never go into the repository. Weights are seeded random (parity and speed do not
need trained weights). Needs Debian's python3-torch and python3-torchvision.
"""
import argparse
import json
import os
import sys

import numpy as np

# name, torchvision constructor, opset, dynamic batch, constant folding, input [C, H, W]
ZOO = [
    ("resnet50", "resnet50", 13, False, True, (3, 224, 224)),
    ("mobilenet_v2", "mobilenet_v2", 11, True, True, (3, 224, 224)),
    ("mobilenet_v3_large", "mobilenet_v3_large", 17, False, False, (3, 224, 224)),
    ("efficientnet_b0", "efficientnet_b0", 13, True, True, (3, 224, 224)),
    ("regnet_y_400mf", "regnet_y_400mf", 14, False, True, (3, 224, 224)),
    ("shufflenet_v2", "shufflenet_v2_x1_0", 12, True, False, (3, 224, 224)),
    ("densenet121", "densenet121", 15, False, True, (3, 224, 224)),
    ("convnext_tiny", "convnext_tiny", 14, True, True, (3, 224, 224)),
    ("vit_b_16", "vit_b_16", 14, False, True, (3, 224, 224)),
    ("swin_t", "swin_t", 17, False, True, (3, 224, 224)),
    ("lraspp_mobilenet_v3", "segmentation.lraspp_mobilenet_v3_large", 16, True, True, (3, 224, 224)),
]


def default_dir():
    return os.environ.get("QS_ZOO_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "quantscope", "zoo")


class OutOnly:
    """Segmentation models return a dict; the exported graph gives its 'out' tensor."""

    def __init__(self, model):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x)["out"]

        self.module = Wrapper(model)


def build(constructor):
    import torchvision
    obj = torchvision.models
    for part in constructor.split("."):
        obj = getattr(obj, part)
    model = obj(weights=None) if "segmentation" not in constructor else obj(weights=None, weights_backbone=None)
    if "segmentation" in constructor:
        model = OutOnly(model).module
    return model.eval()


def seeded_model(constructor):
    """The torch module the zoo exports, with its seeded weights (tests/perf reuses it)."""
    import torch
    torch.manual_seed(0)
    model = build(constructor)
    # torchvision zero-initializes some classifier heads (ViT, Swin): outputs of all zeros would
    # make parity meaningless, so zero weight matrices get seeded values too.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and not p.any():
                p.normal_(0.0, 0.02)
    return model


def export(entry, out_dir):
    import torch
    name, constructor, opset, dynamic, folding, sample = entry
    recipe = {"constructor": constructor, "opset": opset, "dynamic_batch": dynamic,
              "constant_folding": folding, "input": list(sample), "seed": 0, "zero_weights": "seeded",
              "torch": torch.__version__}
    onnx_path = os.path.join(out_dir, name + ".onnx")
    recipe_path = os.path.join(out_dir, name + ".recipe.json")
    if os.path.exists(onnx_path) and os.path.exists(recipe_path):
        with open(recipe_path) as f:
            if json.load(f) == recipe:
                return False
    model = seeded_model(constructor)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, *sample)).astype(np.float32))
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}} if dynamic else {}
    # Traced with gradients on: under no_grad, nn.MultiheadAttention (ViT) takes its fused fast
    # path, which torch.onnx cannot export.
    torch.onnx.export(model, x, onnx_path, opset_version=opset, input_names=["input"],
                      output_names=["output"], do_constant_folding=folding, **kwargs)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    with open(recipe_path, "w") as f:
        json.dump(recipe, f, indent=1)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_dir())
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--list", action="store_true", help="print the zoo as JSON and exit")
    args = parser.parse_args()
    if args.list:
        print(json.dumps([{"name": e[0], "constructor": e[1], "opset": e[2], "dynamic_batch": e[3],
                           "constant_folding": e[4], "input": list(e[5])} for e in ZOO], indent=1))
        return 0
    only = [n for n in args.only.split(",") if n]
    unknown = set(only) - {e[0] for e in ZOO}
    if unknown:
        print(f"make_zoo: unknown model(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    import torch
    torch.set_num_threads(2)
    for entry in ZOO:
        if only and entry[0] not in only:
            continue
        made = export(entry, args.out)
        print(f"{entry[0]:22s} opset {entry[2]:2d}  {'dynamic' if entry[3] else 'static '} batch  "
              f"{'folded' if entry[4] else 'unfolded'}  {'exported' if made else 'cached'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

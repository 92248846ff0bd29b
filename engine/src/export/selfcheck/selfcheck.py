"""Self-check of a Quantscope deployment package with ONNX Runtime for Python.

    python3 selfcheck/selfcheck.py        (needs: numpy, onnxruntime)

1. Every file matches checksums.sha256.  2. model.onnx, run by ONNX Runtime on the reference
inputs, reproduces Quantscope's outputs within the tolerance in selfcheck.json.
Exit status: 0 passed, 1 failed, 2 numpy or onnxruntime is not installed here.
"""
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def finish(problems, outputs=()):
    passed = not problems
    print(json.dumps({"selfcheck": "passed" if passed else "failed", "runtime": "onnxruntime-python",
                      "outputs": list(outputs), "problems": problems}, indent=2))
    sys.exit(0 if passed else 1)


def check_files():
    problems = []
    with open(os.path.join(ROOT, "checksums.sha256"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if not lines:
        problems.append("checksums.sha256 lists no files")
    for line in lines:
        m = re.match(r"^([0-9a-f]{64}) [ *](.+)$", line)
        if not m:
            problems.append(f"checksums.sha256: malformed line: {line}")
            continue
        path = os.path.join(ROOT, m.group(2))
        if not os.path.isfile(path):
            problems.append(f"{m.group(2)}: missing")
            continue
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != m.group(1):
                problems.append(f"{m.group(2)}: modified (its SHA-256 differs from checksums.sha256)")
    return problems


def main():
    problems = check_files()
    if problems:
        finish(problems)
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(f"selfcheck: the files are intact, but {e.name} is not installed here", file=sys.stderr)
        sys.exit(2)
    with open(os.path.join(ROOT, "selfcheck", "selfcheck.json"), encoding="utf-8") as f:
        spec = json.load(f)
    # ONNX Runtime fuses a blocked 4-bit DequantizeLinear into MatMul as its MatMulNBits, by
    # default computing with 8-bit activations; level 1 keeps them fp32, as the quantized model has them.
    options = ort.SessionOptions()
    options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
    session = ort.InferenceSession(os.path.join(ROOT, spec["model"]), options,
                                   providers=["CPUExecutionProvider"])
    feeds = {i["name"]: np.load(os.path.join(ROOT, i["file"])) for i in spec["inputs"]}
    results = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    report = []
    for out in spec["outputs"]:
        want = np.load(os.path.join(ROOT, out["file"]))
        got = results.get(out["name"])
        if got is None:
            problems.append(f"output '{out['name']}': ONNX Runtime did not produce it")
            continue
        if got.shape != want.shape:
            problems.append(f"output '{out['name']}': shape {got.shape}, expected {want.shape}")
            continue
        worst = float(np.nan_to_num(np.abs(got - want), nan=np.inf).max(initial=0.0))
        report.append({"output": out["name"], "max_abs_diff": worst, "atol": out["atol"]})
        if not worst <= out["atol"]:
            problems.append(f"output '{out['name']}': differs by {worst}, more than {out['atol']}")
    finish(problems, report)


if __name__ == "__main__":
    main()

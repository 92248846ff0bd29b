"""Helpers for the CLI integration tests: running quantscope-cli and ONNX Runtime."""
import json
import os
import shutil
import subprocess
import tempfile

SOURCE_DIR = os.environ.get("QS_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
CLI = os.environ.get("QS_CLI", os.path.join(SOURCE_DIR, "build", "bin", "quantscope-cli"))
MODELS_DIR = os.path.join(SOURCE_DIR, "resources", "models")
FOREIGN_DIR = os.path.join(SOURCE_DIR, "tests", "models")
PEER_DIR = os.path.join(SOURCE_DIR, "tests", "peer")
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def run_cli(*args, check=True):
    """Runs quantscope-cli; returns (returncode, stdout, stderr)."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"quantscope-cli {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def cli_json(*args):
    return json.loads(run_cli(*args, "--json")[1])


def bundled_models():
    with open(os.path.join(MODELS_DIR, "models.json")) as f:
        return json.load(f)["models"]


def onednn_integer_kernels():
    """Whether cpu-onednn runs quantized layers on integer kernels here: only on CPUs with VNNI,
    where oneDNN's int8 does not saturate (the device's environment says)."""
    for d in json.loads(run_cli("plugins", "--json")[1])["devices"]:
        if d["name"] == "cpu-onednn":
            return d["environment"].get("integer_kernels", "").startswith("yes")
    return False


def cpu_has_vnni():
    """VNNI (AVX-512 or AVX): without it ONNX Runtime's u8 x s8 kernels (MLAS) add pairs of
    products in 16 bits too, and its int8 results drift from the quantized model's."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def peer_available():
    return shutil.which("node") is not None and os.path.isdir(os.path.join(PEER_DIR, "node_modules", "onnxruntime-node"))


def run_ort(model, inputs, out_dir, optimized=None):
    """Runs ONNX Runtime on {name: path.npy}; returns the folder with <output>.npy files. With
    `optimized` (a path), at full optimization, saving the optimized graph there."""
    args = ["node", os.path.join(PEER_DIR, "ort_run.mjs")]
    args += [f"--optimize={optimized}"] if optimized else []
    args += [model, out_dir]
    args += [f"{name}={path}" for name, path in inputs.items()]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"onnxruntime failed on {model}: {p.stderr}")
    return out_dir


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="qs_it_")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

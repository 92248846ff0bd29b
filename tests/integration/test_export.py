"""quantscope-cli export: the QDQ model loads and runs in ONNX Runtime, fuses into integer
kernels there, and reproduces Quantscope's simulation; the package describes itself truthfully
and checks itself on a target."""
import hashlib
import json
import os
import shutil
import subprocess
import re
import unittest
import xml.dom.minidom
import zipfile

import numpy as np
import onnx

from cli_util import MODELS_DIR, PEER_DIR, TempDir, bundled_models, cpu_has_vnni, peer_available, run_cli, run_ort

# ONNX Runtime's own int8 kernels add u8 x s8 pairs in 16 bits on CPUs without VNNI and saturate:
# its outputs then drift from the quantized model's, whatever the package holds.
NEEDS_VNNI = unittest.skipUnless(
    cpu_has_vnni(), "skipped 'this CPU has no VNNI: ONNX Runtime's u8s8 int8 kernels saturate here'")
from test_cli import fashion_test, preprocess

INTEGER_OPS = {"QLinearConv", "QGemm", "MatMulInteger", "MatMulIntegerToFloat", "QLinearMatMul"}


def classifiers():
    return [n for n, e in bundled_models().items() if e["task"] == "classification"]


def model_path(name):
    return os.path.join(MODELS_DIR, bundled_models()[name]["file"])


def quantize(model, out, *args):
    run_cli("quantize", model, "--data", "fashion-mnist:train", "--limit", "300", "-o", out, *args)


def output_step(outputs):
    """The step of an 8-bit grid over the outputs' range: what a quantize node on the output
    would resolve. (The accumulator's step, input scale x weight scale, is far finer: one input
    code that rounds the other way at a tie moves a logit by up to |weight code| such steps.)"""
    return np.float32(outputs.max() - outputs.min()) / np.float32(255)


def selfcheck(package, python=False):
    if python:
        args = ["/usr/bin/python3", os.path.join(package, "selfcheck", "selfcheck.py")]
    else:
        args = ["node", os.path.join(package, "selfcheck", "selfcheck.mjs")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def fresh_copy(package, root):
    """The package alone in a new folder, with ONNX Runtime installed beside it (as on a target)."""
    os.symlink(os.path.join(PEER_DIR, "node_modules"), os.path.join(root, "node_modules"))
    dest = os.path.join(root, "pkg")
    shutil.copytree(package, dest)
    return dest


@unittest.skipUnless(peer_available(), "skipped 'onnxruntime-node is not installed (npm ci in tests/peer)'")
class ExportOnnxRuntime(unittest.TestCase):
    """Every bundled classifier at W8A8 and W4A8, on the whole test set."""

    def check(self, name, config_args, d):
        model = model_path(name)
        config = f"{d}/{name}.json"
        quantize(model, config, *config_args)
        pkg = f"{d}/{name}_pkg"
        out = json.loads(run_cli("export", model, "--config", config, "-o", pkg, "--json")[1])
        qdq = f"{pkg}/model.onnx"
        if out["opset"] <= 17:
            onnx.checker.check_model(onnx.load(qdq), full_check=True)
        images, _ = fashion_test(10000)
        np.save(f"{d}/x.npy", preprocess(model, images))
        run_cli("run", model, "--config", config, "--input", f"{d}/x.npy", "--output", f"{d}/ours.npy")
        run_ort(qdq, {onnx.load(model).graph.input[0].name: f"{d}/x.npy"}, f"{d}/ort", optimized=f"{d}/opt.onnx")
        ours = np.load(f"{d}/ours.npy")
        theirs = np.load(f"{d}/ort/" + os.listdir(f"{d}/ort")[0])
        agreement = float((ours.argmax(1) == theirs.argmax(1)).mean())
        steps = np.abs(ours - theirs) / output_step(ours)
        within = float((steps <= 1.0).mean())
        self.assertGreaterEqual(agreement, 0.999, f"{name}: top-1 agreement {agreement}")
        self.assertGreaterEqual(within, 0.999, f"{name}: {within} of outputs within one step, worst {steps.max()}")
        return out["opset"], {n.op_type for n in onnx.load(f"{d}/opt.onnx").graph.node}

    @NEEDS_VNNI
    def test_w8a8_fuses_into_integer_kernels(self):
        for name in classifiers():
            with self.subTest(model=name), TempDir() as d:
                opset, ops = self.check(name, [], d)
                self.assertLessEqual(opset, 17)
                self.assertTrue(ops & INTEGER_OPS, f"{name}: no integer op in ONNX Runtime's graph: {sorted(ops)}")

    def test_w4a8_int4_at_opset_21(self):
        for name in classifiers():
            with self.subTest(model=name), TempDir() as d:
                opset, _ = self.check(name, ["--weights", "4"], d)
                self.assertEqual(opset, 21)
                types = {t.data_type for t in onnx.load(f"{d}/{name}_pkg/model.onnx", load_external_data=False).graph.initializer}
                self.assertIn(22, types, "4-bit weights are stored as INT4")
                # Asked for opset 17: the same codes in int8, a file onnx.checker accepts.
                run_cli("export", model_path(name), "--config", f"{d}/{name}.json", "-o", f"{d}/op17", "--opset", "17")
                m17 = onnx.load(f"{d}/op17/model.onnx")
                self.assertEqual(m17.opset_import[0].version, 17)
                onnx.checker.check_model(m17, full_check=True)


@unittest.skipUnless(peer_available(), "skipped 'onnxruntime-node is not installed (npm ci in tests/peer)'")
class ExportPackage(unittest.TestCase):
    """The package on lenet: manifest, per-class check, self-check, zip, errors."""

    @classmethod
    def setUpClass(cls):
        cls.dir = TempDir().__enter__()
        cls.model = model_path("lenet")
        cls.config = f"{cls.dir}/w8a8.json"
        quantize(cls.model, cls.config)
        cls.pkg = f"{cls.dir}/pkg"
        run_cli("export", cls.model, "--config", cls.config, "-o", cls.pkg, "--data", "fashion-mnist:test",
                "--limit", "500")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def per_class(self, config, count):
        """Per-class top-1 of the float model and of the simulation, from quantscope-cli run."""
        images, labels = fashion_test(count)
        np.save(f"{self.dir}/x{count}.npy", preprocess(self.model, images))
        run_cli("run", self.model, "--input", f"{self.dir}/x{count}.npy", "--output", f"{self.dir}/f.npy")
        run_cli("run", self.model, "--config", config, "--input", f"{self.dir}/x{count}.npy",
                "--output", f"{self.dir}/q.npy")
        f, q = np.load(f"{self.dir}/f.npy").argmax(1), np.load(f"{self.dir}/q.npy").argmax(1)
        return {c: (100.0 * (f[labels == c] == c).mean(), 100.0 * (q[labels == c] == c).mean()) for c in range(10)}

    def test_manifest(self):
        with open(f"{self.pkg}/manifest.json") as f:
            m = json.load(f)
        self.assertEqual((m["format"], m["schema_version"]), ("quantscope-package", 1))
        with open(self.model, "rb") as f:
            self.assertEqual(m["source_model"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        with open(f"{self.pkg}/model.onnx", "rb") as f:
            self.assertEqual(m["model"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        ev = m["evaluation"]
        self.assertEqual(ev["samples"], 500)
        ours = json.loads(run_cli("eval", self.model, "--config", self.config, "--data", "fashion-mnist:test",
                                  "--limit", "500", "--json")[1])
        self.assertAlmostEqual(ev["float"]["top1"], ours["fp32_top1"], places=9)
        self.assertAlmostEqual(ev["quantized"]["top1"], ours["top1"], places=9)
        expected = self.per_class(self.config, 500)
        self.assertEqual(len(ev["per_class"]), 10)
        for c in ev["per_class"]:
            self.assertAlmostEqual(c["float_top1"], expected[c["label"]][0], places=6)
            self.assertAlmostEqual(c["quantized_top1"], expected[c["label"]][1], places=6)
        self.assertEqual(m["quantization"]["defaults"]["weight_bits"], 8)
        with open(f"{self.pkg}/report.html") as f:
            report = f.read()
        self.assertIn("<svg", report)
        self.assertIn("/conv1/Conv", report)
        self.assertNotIn("<script", report)
        self.assertNotIn("Pareto", report)  # nothing drawn that was not given

    def test_report_draws_sensitivity_and_the_front(self):
        sens, search = f"{self.dir}/sens.json", f"{self.dir}/search.json"
        for cmd, path in (("sensitivity", sens), ("search", search)):
            _, text, _ = run_cli(cmd, self.model, "--data", "fashion-mnist:train", "--limit", "100", "--json")
            with open(path, "w") as f:
                f.write(text)
        pkg = f"{self.dir}/drawn"
        run_cli("export", self.model, "--config", self.config, "-o", pkg, "--sensitivity", sens, "--search", search)
        with open(f"{pkg}/report.html") as f:
            report = f.read()
        svgs = re.findall(r"<svg.*?</svg>", report, re.S)
        labels = [re.search(r"aria-label='([^']*)'", svg).group(1) for svg in svgs]
        self.assertEqual(labels, ["per-layer sensitivity", "Pareto front"])
        for svg in svgs:
            xml.dom.minidom.parseString(svg)
        with open(sens) as f:
            layers = json.load(f)["layers"]
        cells = re.findall(r"<title>([^<]*) at (\d+) bits: KL", svgs[0])
        self.assertEqual(len(cells), sum(len(l["bits"]) for l in layers))
        with open(search) as f:
            front = json.load(f)["front"]
        self.assertEqual(svgs[1].count("<title>front:"), len(front))
        rc, _, err = run_cli("export", self.model, "--config", self.config, "-o", f"{self.dir}/bad",
                             "--search", sens, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("search --json", err)

    def test_flags_classes_that_move(self):
        config = f"{self.dir}/w2.json"
        quantize(self.model, config, "--weights", "2")
        _, text, _ = run_cli("export", self.model, "--config", config, "-o", f"{self.dir}/w2pkg",
                             "--data", "fashion-mnist:test", "--limit", "500")
        with open(f"{self.dir}/w2pkg/manifest.json") as f:
            flagged = json.load(f)["evaluation"]["flagged_classes"]
        expected = sorted(c for c, (fl, q) in self.per_class(config, 500).items() if abs(q - fl) > 2.0)
        self.assertTrue(expected, "2-bit weights move some class by more than 2 points")
        self.assertEqual(flagged, expected)
        for c in expected:
            self.assertIn(f"WARNING    class {c}:", text)

    @NEEDS_VNNI
    def test_selfcheck_passes_in_a_fresh_folder_and_fails_on_any_change(self):
        with open(f"{self.pkg}/checksums.sha256") as f:
            listed = sorted(line.split("  ", 1)[1].strip() for line in f if line.strip())
        files = sorted(os.path.relpath(os.path.join(r, n), self.pkg) for r, _, ns in os.walk(self.pkg) for n in ns)
        self.assertEqual(listed, [f for f in files if f != "checksums.sha256"])
        for victim in listed:
            with self.subTest(modified=victim), TempDir() as root:
                pkg = fresh_copy(self.pkg, root)
                rc, out = selfcheck(pkg)
                self.assertEqual(rc, 0, out)
                self.assertIn('"passed"', out)
                with open(os.path.join(pkg, victim), "ab") as f:
                    f.write(b"\n")  # keeps a script runnable: its checksum must catch it
                rc, out = selfcheck(pkg)
                self.assertEqual(rc, 1, out)
                self.assertIn(f"{victim}: modified", out)
                rc, out = selfcheck(pkg, python=True)
                self.assertEqual(rc, 1, out)
                self.assertIn(f"{victim}: modified", out)

    def test_python_selfcheck_without_onnxruntime(self):
        with TempDir() as root:
            pkg = fresh_copy(self.pkg, root)
            rc, out = selfcheck(pkg, python=True)
            self.assertEqual(rc, 2, out)  # files intact; Debian has no onnxruntime for Python
            self.assertIn("onnxruntime", out)
            os.remove(os.path.join(pkg, "report.html"))
            rc, out = selfcheck(pkg, python=True)
            self.assertEqual(rc, 1, out)
            self.assertIn("report.html: missing", out)

    @NEEDS_VNNI
    def test_zip(self):
        archive = f"{self.dir}/pkg.zip"
        run_cli("export", self.model, "--config", self.config, "-o", archive)
        with zipfile.ZipFile(archive) as z:
            self.assertIsNone(z.testzip())
            names = z.namelist()
            self.assertIn("model.onnx", names)
            self.assertIn("checksums.sha256", names)
            with TempDir() as root:
                z.extractall(os.path.join(root, "unzipped"))
                pkg = fresh_copy(os.path.join(root, "unzipped"), root)
                rc, out = selfcheck(pkg)
                self.assertEqual(rc, 0, out)

    def import_and_compare(self, source, config, tag, foreign=False):
        """quantscope-cli import, then the recovered model under the recovered configuration
        must compute exactly what the original simulation computes."""
        images, labels = fashion_test(300)
        x = f"{self.dir}/xi.npy"
        np.save(x, preprocess(self.model, images))
        cfg, flt = f"{self.dir}/{tag}.json", f"{self.dir}/{tag}.onnx"
        out = json.loads(run_cli("import", source, "--config", cfg, "--float-model", flt, "--json")[1])
        run_cli("run", self.model, "--config", config, "--input", x, "--output", f"{self.dir}/a.npy")
        run_cli("run", flt, "--config", cfg, "--input", x, "--output", f"{self.dir}/b.npy")
        run_cli("run", self.model, "--input", x, "--output", f"{self.dir}/f.npy")
        run_cli("run", flt, "--input", x, "--output", f"{self.dir}/g.npy")
        a, b = np.load(f"{self.dir}/a.npy"), np.load(f"{self.dir}/b.npy")
        f, g = np.load(f"{self.dir}/f.npy"), np.load(f"{self.dir}/g.npy")
        np.testing.assert_array_equal(a, b, err_msg=f"{tag}: the recovered quantization computes something else")
        # The float model: the original's nodes (the folded Relus back), weights dequantized.
        if foreign:
            self.assertTrue(any("Relu/Clip" in n for n in out["notes"]), out["notes"])
            return out
        self.assertEqual(sorted(n.name for n in onnx.load(flt).graph.node),
                         sorted(n.name for n in onnx.load(self.model).graph.node), tag)
        self.assertLess(float(np.abs(f - g).max()), float(np.abs(f).max()), tag)
        return out

    def test_import_round_trip(self):
        for source in (self.pkg, f"{self.dir}/rt.zip"):
            with self.subTest(source=source):
                if source.endswith(".zip"):
                    run_cli("export", self.model, "--config", self.config, "-o", source)
                out = self.import_and_compare(source, self.config, "rt")
                self.assertEqual(out["quantized_weights"], 5)
                self.assertEqual(out["notes"], [])
        # W4A8 at opset 21 (INT4 weights), and a QDQ model from elsewhere: no Quantscope metadata,
        # so the bits, granularity and symmetry are read off the nodes.
        config = f"{self.dir}/w4.json"
        quantize(self.model, config, "--weights", "4", "--granularity", "tensor", "--asymmetric")
        run_cli("export", self.model, "--config", config, "-o", f"{self.dir}/w4pkg")
        self.import_and_compare(f"{self.dir}/w4pkg", config, "w4-imported")
        m = onnx.load(f"{self.dir}/pkg/model.onnx")
        del m.metadata_props[:]
        onnx.save(m, f"{self.dir}/foreign.onnx")
        self.import_and_compare(f"{self.dir}/foreign.onnx", self.config, "foreign", foreign=True)
        with open(f"{self.dir}/foreign.json") as f:
            q = json.load(f)
        bits = {o.get("weight_bits") for o in q["overrides"].values()}
        self.assertEqual(bits, {8})

    def test_errors(self):
        with TempDir() as d:
            keep = os.path.join(d, "notes.txt")
            with open(keep, "w") as f:
                f.write("mine")
            rc, _, err = run_cli("export", self.model, "--config", self.config, "-o", d, check=False)
            self.assertEqual(rc, 1)
            self.assertIn("not a Quantscope package", err)
            with open(keep) as f:
                self.assertEqual(f.read(), "mine")
            rc, _, err = run_cli("export", self.model, "-o", f"{d}/p", check=False)
            self.assertEqual(rc, 2)
            self.assertIn("--config", err)
            vit_config = f"{d}/vit.json"
            quantize(model_path("vit"), vit_config)
            rc, _, err = run_cli("export", self.model, "--config", vit_config, "-o", f"{d}/p", check=False)
            self.assertEqual(rc, 1)
            self.assertIn("which this model does not have", err)
            self.assertFalse(os.path.exists(f"{d}/p"))
            rc, _, err = run_cli("export", self.model, "--config", self.config, "-o", f"{d}/p", "--opset", "9",
                                 check=False)
            self.assertEqual(rc, 1)
            self.assertIn("opset", err)


if __name__ == "__main__":
    unittest.main()

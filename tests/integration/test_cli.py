"""quantscope-cli end to end on the bundled models and data. Numbers are checked against values
computed independently here (onnx + numpy, ONNX Runtime) or recorded by the training script."""
import gzip
import json
import os
import struct
import subprocess
import unittest
import zlib

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from cli_util import (CLI, FASHION_DIR, FOREIGN_DIR, MODELS_DIR, TempDir, bundled_models, cli_json,
                      peer_available, run_cli, run_ort)

CLASSIFIERS = [k for k, v in bundled_models().items() if v["task"] == "classification"]


def fashion_test(count):
    """First `count` Fashion-MNIST test images (uint8 [N,28,28]) and labels, read with numpy."""
    with gzip.open(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    with gzip.open(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count]
    return images, labels


def preprocess(model_path, images):
    meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    pre = json.loads(meta["quantscope.preprocess"])
    x = images.astype(np.float32)[:, None] / 255.0
    return ((x - np.float32(pre["mean"][0])) / np.float32(pre["std"][0])).astype(np.float32)


def write_png_gray(path, pixels):
    """Minimal grayscale PNG writer (so the test needs no imaging library)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class CliInfo(unittest.TestCase):
    def test_params_and_macs_match_an_independent_count(self):
        for name in ["lenet", "vit"]:  # no BatchNormalization, so nothing is folded away
            path = os.path.join(MODELS_DIR, f"{name}.onnx")
            info = cli_json("info", path)
            model = onnx.load(path)
            params = sum(int(np.prod(t.dims)) for t in model.graph.initializer
                         if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) > 1)
            self.assertEqual(info["totals"]["params"], params, name)
            self.assertEqual(info["inputs"][0]["shape"], ["N", 1, 28, 28])
            self.assertEqual(info["unsupported"], [])

    def test_lenet_macs(self):
        path = os.path.join(MODELS_DIR, "lenet.onnx")
        model = shape_inference.infer_shapes(onnx.load(path))
        shapes = {v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
                  for v in list(model.graph.value_info) + list(model.graph.output)}
        weights = {t.name: list(t.dims) for t in model.graph.initializer}
        expected = 0
        for n in model.graph.node:
            if n.op_type == "Conv":
                expected += int(np.prod(shapes[n.output[0]])) * int(np.prod(weights[n.input[1]][1:]))
            if n.op_type == "Gemm":
                w = weights[n.input[1]]
                expected += int(np.prod(shapes[n.output[0]])) * (w[1] if any(a.name == "transB" and a.i for a in n.attribute) else w[0])
        info = cli_json("info", path)
        self.assertEqual(info["totals"]["macs"], expected)
        self.assertEqual(sum(l["macs"] for l in info["layers"]), expected)

    def test_batchnorm_is_folded_with_names_kept(self):
        info = cli_json("info", os.path.join(MODELS_DIR, "mobilenet.onnx"))
        self.assertNotIn("BatchNormalization", info["op_histogram"])
        folded = [l for l in info["layers"] if l["folded_from"]]
        self.assertGreater(len(folded), 0)
        onnx_names = {n.name for n in onnx.load(os.path.join(MODELS_DIR, "mobilenet.onnx")).graph.node}
        for layer in info["layers"]:
            self.assertIn(layer["name"], onnx_names)

    def test_text_output_lists_layers(self):
        _, out, _ = run_cli("info", os.path.join(MODELS_DIR, "lenet.onnx"))
        self.assertIn("total:", out)
        self.assertIn("Conv", out)


class CliEval(unittest.TestCase):
    def test_full_test_set_matches_pytorch(self):
        for name in CLASSIFIERS:
            entry = bundled_models()[name]
            r = cli_json("eval", os.path.join(MODELS_DIR, entry["file"]), "--data", "fashion-mnist:test")
            self.assertEqual(r["samples"], 10000)
            self.assertEqual(r["device"], "cpu-ref")
            self.assertAlmostEqual(r["top1"], entry["top1"], delta=0.05, msg=name)
            self.assertAlmostEqual(r["top5"], entry["top5"], delta=0.05, msg=name)

    def test_limit_and_batch_do_not_change_results(self):
        path = os.path.join(MODELS_DIR, "lenet.onnx")
        a = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "300", "--batch", "7")
        b = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "300", "--batch", "300")
        self.assertEqual(a["samples"], 300)
        self.assertEqual(a["top1"], b["top1"])
        self.assertEqual(a["top5"], b["top5"])

    def test_top1_equals_an_independent_count_from_run(self):
        path = os.path.join(MODELS_DIR, "mobilenet.onnx")
        images, labels = fashion_test(200)
        with TempDir() as d:
            np.save(os.path.join(d, "x.npy"), preprocess(path, images))
            run_cli("run", path, "--input", os.path.join(d, "x.npy"), "--output", os.path.join(d, "y.npy"))
            logits = np.load(os.path.join(d, "y.npy"))
        expected = 100.0 * np.mean(np.argmax(logits, 1) == labels)
        r = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "200")
        self.assertAlmostEqual(r["top1"], expected, places=6)

    def test_autoencoder_reports_psnr(self):
        r = cli_json("eval", os.path.join(MODELS_DIR, "autoencoder.onnx"), "--data", "fashion-mnist:test", "--limit", "100")
        self.assertIsNone(r["top1"])
        self.assertGreater(r["psnr_db"], 15.0)

    def test_autoencoder_psnr_matches_pytorch(self):
        # The recorded PSNR is for the seeded noisy test images; rebuild them as train.py did and
        # denoise them with `run`, in chunks.
        entry = bundled_models()["autoencoder"]
        images, _ = fashion_test(10000)
        clean = images.astype(np.float32)[:, None] / 255.0
        noise = np.random.default_rng(entry["noise_seed"]).normal(0.0, entry["noise_sigma"], clean.shape).astype(np.float32)
        noisy = np.clip(clean + noise, 0.0, 1.0).astype(np.float32)
        squared = 0.0
        with TempDir() as d:
            for start in range(0, 10000, 2500):
                np.save(f"{d}/x.npy", noisy[start:start + 2500])
                run_cli("run", os.path.join(MODELS_DIR, entry["file"]), "--input", f"{d}/x.npy", "--output", f"{d}/y.npy")
                squared += float(np.sum((np.load(f"{d}/y.npy").astype(np.float64) - clean[start:start + 2500]) ** 2))
        psnr = 10.0 * np.log10(1.0 / (squared / clean.size))
        self.assertAlmostEqual(psnr, entry["psnr_db"], delta=0.01)

    def test_mean_std_override(self):
        # --mean/--std replace the model's preprocessing: compare with the same normalization
        # done here in numpy and scored from `run` outputs.
        path = os.path.join(MODELS_DIR, "lenet.onnx")
        images, labels = fashion_test(200)
        x = ((images.astype(np.float32)[:, None] / 255.0 - np.float32(0.5)) / np.float32(0.25)).astype(np.float32)
        with TempDir() as d:
            np.save(os.path.join(d, "x.npy"), x)
            run_cli("run", path, "--input", os.path.join(d, "x.npy"), "--output", os.path.join(d, "y.npy"))
            expected = 100.0 * np.mean(np.argmax(np.load(os.path.join(d, "y.npy")), 1) == labels)
        r = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "200", "--mean", "0.5", "--std", "0.25")
        self.assertAlmostEqual(r["top1"], expected, places=6)
        default = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "200")
        self.assertNotEqual(r["top1"], default["top1"])


class CliData(unittest.TestCase):
    def test_idx_npy_and_folder_give_the_same_accuracy(self):
        path = os.path.join(MODELS_DIR, "lenet.onnx")
        images, labels = fashion_test(60)
        with TempDir() as d:
            with gzip.open(os.path.join(d, "img.gz"), "wb") as f:
                f.write(struct.pack(">IIII", 2051, 60, 28, 28) + images.tobytes())
            with open(os.path.join(d, "lab"), "wb") as f:
                f.write(struct.pack(">II", 2049, 60) + labels.tobytes())
            np.save(os.path.join(d, "x.npy"), preprocess(path, images))
            np.save(os.path.join(d, "y.npy"), labels.astype(np.int64))
            for i, (img, lab) in enumerate(zip(images, labels)):
                os.makedirs(os.path.join(d, "folder", f"class{lab}"), exist_ok=True)
                write_png_gray(os.path.join(d, "folder", f"class{lab}", f"{i:03d}.png"), img)
            ref = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "60")
            idx = cli_json("eval", path, "--data", f"idx:{d}/img.gz,{d}/lab")
            npy = cli_json("eval", path, "--data", f"npy:{d}/x.npy,{d}/y.npy")
            folder = cli_json("eval", path, "--data", f"folder:{d}/folder")
        self.assertEqual(idx["top1"], ref["top1"])
        self.assertEqual(npy["top1"], ref["top1"])
        self.assertEqual(folder["samples"], 60)
        # Folder labels are the sorted subfolder index, which equals the class digit here as long
        # as every class 0-9 occurs among the 60 images.
        if len(set(labels.tolist())) == 10:
            self.assertEqual(folder["top1"], ref["top1"])


class CliRun(unittest.TestCase):
    def test_multiple_outputs_go_to_a_folder(self):
        with TempDir() as d:
            np.save(os.path.join(d, "x.npy"), np.ones((2, 1, 28, 28), np.float32))
            out = os.path.join(d, "out") + "/"
            run_cli("run", os.path.join(MODELS_DIR, "lenet.onnx"), "--input", f"input={d}/x.npy", "--output", out)
            y = np.load(os.path.join(out, "logits.npy"))
        self.assertEqual(y.shape, (2, 10))
        self.assertEqual(y.dtype, np.float32)

    def test_batch_sizes_agree(self):
        path = os.path.join(MODELS_DIR, "vit.onnx")
        images, _ = fashion_test(5)
        x = preprocess(path, images)
        with TempDir() as d:
            np.save(os.path.join(d, "x5.npy"), x)
            np.save(os.path.join(d, "x1.npy"), x[3:4])
            run_cli("run", path, "--input", f"{d}/x5.npy", "--output", f"{d}/y5.npy")
            run_cli("run", path, "--input", f"{d}/x1.npy", "--output", f"{d}/y1.npy")
            np.testing.assert_allclose(np.load(f"{d}/y5.npy")[3:4], np.load(f"{d}/y1.npy"), atol=1e-5)


class CliDevices(unittest.TestCase):
    def test_plugins_lists_devices_and_refusals(self):
        listing = cli_json("plugins")
        names = [d["name"] for d in listing["devices"]]
        self.assertEqual(names[0], "cpu-ref")
        self.assertIn("skeleton", names)
        broken = os.environ.get("QS_BROKEN_PLUGIN_DIR")
        if not broken:
            self.skipTest("QS_BROKEN_PLUGIN_DIR is not set (run through ctest)")
        p = subprocess.run([CLI, "plugins", "--json"], capture_output=True, text=True,
                           env={**os.environ, "QUANTSCOPE_PLUGIN_PATH": broken}, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        refused = {os.path.basename(r["path"]): r["reason"] for r in json.loads(p.stdout)["plugins"] if not r["loaded"]}
        self.assertIn("ABI version", refused["qsplugin_wrong_abi.so"])
        self.assertIn("entry point", refused["qsplugin_no_entry_point.so"])
        self.assertIn("qs_symbol_that_no_library_defines", refused["qsplugin_unresolved_symbol.so"])

    def test_info_shows_where_each_node_runs(self):
        info = cli_json("info", os.path.join(MODELS_DIR, "lenet.onnx"), "--device", "skeleton")
        self.assertEqual(info["device"], "skeleton")
        self.assertTrue(all(l["device"] == "skeleton" for l in info["layers"]))
        self.assert_unknown_device_fails()

    def assert_unknown_device_fails(self):
        rc, _, err = run_cli("info", os.path.join(MODELS_DIR, "lenet.onnx"), "--device", "npu-42", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("cpu-ref", err)

    def test_eval_and_run_agree_across_devices(self):
        path = os.path.join(MODELS_DIR, "mobilenet.onnx")
        ref = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "100")
        other = cli_json("eval", path, "--data", "fashion-mnist:test", "--limit", "100", "--device", "skeleton")
        self.assertEqual(other["device"], "skeleton")
        self.assertEqual(other["top1"], ref["top1"])

    def test_onednn_matches_the_reference_up_to_batch_256(self):
        if "cpu-onednn" not in [d["name"] for d in cli_json("plugins")["devices"]]:
            self.skipTest("the cpu-onednn plugin is not built")
        images, _ = fashion_test(256)
        for name in ["lenet", "mobilenet", "vit", "autoencoder"]:
            path = os.path.join(MODELS_DIR, f"{name}.onnx")
            with TempDir() as d:
                np.save(f"{d}/x.npy", preprocess(path, images) if name != "autoencoder" else images.astype(np.float32)[:, None] / 255.0)
                for device in ["cpu-ref", "cpu-onednn"]:
                    run_cli("run", path, "--device", device, "--input", f"{d}/x.npy", "--output", f"{d}/{device}.npy")
                ref, ours = np.load(f"{d}/cpu-ref.npy"), np.load(f"{d}/cpu-onednn.npy")
            with self.subTest(model=name):
                np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)

    def test_bench_reports_statistics(self):
        r = cli_json("bench", os.path.join(MODELS_DIR, "lenet.onnx"), "--runs", "20", "--warmup", "2",
                     "--min-seconds", "0.2", "--batch", "4", "--per-layer")
        for key in ["median_ms", "p90_ms", "p99_ms", "min_ms", "cv", "cold_ms", "runs", "isa", "threads", "batch"]:
            self.assertIn(key, r)
        self.assertGreaterEqual(r["runs"], 20)
        self.assertEqual(r["batch"], 4)
        self.assertLessEqual(r["min_ms"], r["median_ms"])
        self.assertLessEqual(r["median_ms"], r["p90_ms"])
        self.assertLessEqual(r["p90_ms"], r["p99_ms"])
        self.assertEqual(r["unstable"], r["cv"] > 0.05)
        onnx_names = [n.name for n in onnx.load(os.path.join(MODELS_DIR, "lenet.onnx")).graph.node]
        self.assertEqual([l["name"] for l in r["layers"]], onnx_names)
        self.assertTrue(all(l["median_ms"] >= 0 for l in r["layers"]))


class BadInput(unittest.TestCase):
    def test_a_job_larger_than_memory_is_refused_in_words(self):
        env = dict(os.environ, QUANTSCOPE_MEMORY_LIMIT="1M")
        p = subprocess.run([CLI, "eval", os.path.join(MODELS_DIR, "vit.onnx"), "--data", "fashion-mnist:test",
                            "--limit", "64"], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("evaluating the model needs about", p.stderr)
        self.assertIn("--batch", p.stderr)

    def test_every_job_checks_its_memory_first(self):
        vit = os.path.join(MODELS_DIR, "vit.onnx")
        data = ["--data", "fashion-mnist:test", "--limit", "64"]
        with TempDir() as d:
            cfg = os.path.join(d, "w8.json")
            run_cli("quantize", vit, *data, "-o", cfg)
            env = dict(os.environ, QUANTSCOPE_MEMORY_LIMIT="1M")
            jobs = [("quantize", ["quantize", vit, *data, "-o", os.path.join(d, "x.json")]),
                    ("sensitivity", ["sensitivity", vit, *data, "--bits", "4"]),
                    ("hessian", ["hessian", vit, *data]),
                    ("the benchmark", ["bench", vit, "--runs", "1", "--batch", "256"]),
                    ("tracing the error per layer", ["errors", vit, "--config", cfg, *data]),
                    ("comparing a sample", ["compare", vit, "--config", cfg, *data, "--sample", "0"]),
                    ("sensitivity", ["search", vit, *data, "--bits", "4,8"])]
            for what, args in jobs:
                p = subprocess.run([CLI, *args], capture_output=True, text=True, env=env,
                                   timeout=120)
                self.assertEqual(p.returncode, 1, f"{args[0]}: {p.stderr}")
                self.assertIn("needs about", p.stderr, args[0])
                self.assertIn(what, p.stderr, args[0])

    def assert_fails(self, code, *args):
        rc, out, err = run_cli(*args, check=False)
        self.assertEqual(rc, code, f"{args}: {err}")
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertGreaterEqual(len(lines), 1)
        if code == 1:
            self.assertEqual(len(lines), 1, err)
            self.assertIn("error:", lines[0])
        return err

    def test_usage_errors_exit_2(self):
        self.assert_fails(2, "eval")
        self.assert_fails(2, "eval", os.path.join(MODELS_DIR, "lenet.onnx"))
        self.assert_fails(2, "info", os.path.join(MODELS_DIR, "lenet.onnx"), "--bogus")
        self.assert_fails(2, "eval", os.path.join(MODELS_DIR, "lenet.onnx"), "--data", "fashion-mnist:test", "--limit", "x")
        self.assert_fails(2, "nonsense")

    def test_help_for_every_command(self):
        # Every command the overview lists prints its usage and the options it parses (the one
        # declaration both come from), each option once.
        _, overview, _ = run_cli("--help")
        commands = [l.split()[0] for l in overview.splitlines() if l.startswith("  ")]
        self.assertGreaterEqual(len(commands), 16)
        for cmd in commands:
            rc, out, err = run_cli(cmd, "--help")
            self.assertEqual(rc, 0, f"{cmd}: {err}")
            self.assertIn(f"usage: quantscope-cli {cmd}", out)
            options = [l.split()[0] for l in out.split("options:\n", 1)[1].splitlines()
                       if l.startswith("  -")]
            self.assertEqual(len(options), len(set(options)), f"{cmd}: {options}")
        _, out, _ = run_cli("eval", "--help")
        self.assertIn("--data SPEC", out)

    def test_missing_and_corrupt_models(self):
        self.assertIn("no such file", self.assert_fails(1, "info", "/nonexistent.onnx"))
        with TempDir() as d:
            data = open(os.path.join(MODELS_DIR, "lenet.onnx"), "rb").read()
            with open(f"{d}/cut.onnx", "wb") as f:
                f.write(data[: len(data) // 2])
            self.assert_fails(1, "info", f"{d}/cut.onnx")
            flipped = bytearray(data)
            for i in range(0, len(flipped), 997):
                flipped[i] ^= 0x5A
            with open(f"{d}/flip.onnx", "wb") as f:
                f.write(bytes(flipped))
            rc, _, err = run_cli("eval", f"{d}/flip.onnx", "--data", "fashion-mnist:test", "--limit", "10", check=False)
            self.assertIn(rc, (0, 1), err)  # either it still loads or it fails cleanly; never a crash

    def test_unsupported_op_is_listed_by_info_and_refused_by_eval(self):
        from onnx import TensorProto, helper
        graph = helper.make_graph(
            [helper.make_node("Relu", ["input"], ["r"], name="relu0"),
             helper.make_node("Det", ["r"], ["logits"], name="odd_one")],
            "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 10])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        with TempDir() as d:
            onnx.save(model, f"{d}/m.onnx")
            info = cli_json("info", f"{d}/m.onnx")
            self.assertEqual(len(info["unsupported"]), 1)
            self.assertIn("odd_one", info["unsupported"][0])
            self.assertIn("Det", info["unsupported"][0])
            np.save(f"{d}/x.npy", np.zeros((1, 10), np.float32))
            err = self.assert_fails(1, "run", f"{d}/m.onnx", "--input", f"{d}/x.npy", "--output", f"{d}/y.npy")
            self.assertIn("odd_one", err)

    def test_wrong_shape_input_to_run(self):
        with TempDir() as d:
            np.save(f"{d}/x.npy", np.ones((1, 3, 28, 28), np.float32))
            err = self.assert_fails(1, "run", os.path.join(MODELS_DIR, "lenet.onnx"), "--input", f"{d}/x.npy", "--output", f"{d}/y.npy")
            self.assertIn("input", err)

    def test_corrupt_data(self):
        model = os.path.join(MODELS_DIR, "lenet.onnx")
        with TempDir() as d:
            with open(f"{d}/bad.gz", "wb") as f:
                f.write(b"\x1f\x8b\x08\x00garbage")
            self.assert_fails(1, "eval", model, "--data", f"idx:{d}/bad.gz")
            os.makedirs(f"{d}/folder/a")
            with open(f"{d}/folder/a/broken.png", "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\nnot really")
            self.assertIn("broken.png", self.assert_fails(1, "eval", model, "--data", f"folder:{d}/folder"))
            np.save(f"{d}/x.npy", np.zeros((5, 1, 28, 28), np.float32))
            np.save(f"{d}/y.npy", np.zeros((4,), np.int64))
            self.assert_fails(1, "eval", model, "--data", f"npy:{d}/x.npy,{d}/y.npy")
            self.assert_fails(1, "eval", model, "--data", "nosuchscheme:whatever")
            np.save(f"{d}/wrong.npy", np.zeros((5, 3, 32, 32), np.float32))
            self.assert_fails(1, "eval", model, "--data", f"npy:{d}/wrong.npy")


@unittest.skipUnless(peer_available(), "onnxruntime-node is not installed (npm ci --prefix tests/peer)")
class PeerOnnxRuntime(unittest.TestCase):
    """Outputs of quantscope-cli run match ONNX Runtime within 1e-4 (absolute)."""

    def compare(self, model, x):
        name = onnx.load(model).graph.input[0].name
        with TempDir() as d:
            np.save(f"{d}/x.npy", x)
            run_cli("run", model, "--input", f"{d}/x.npy", "--output", f"{d}/ours/")
            run_ort(model, {name: f"{d}/x.npy"}, f"{d}/ort")
            outputs = sorted(os.listdir(f"{d}/ort"))
            self.assertEqual(outputs, sorted(os.listdir(f"{d}/ours")))
            for out in outputs:
                ours, theirs = np.load(f"{d}/ours/{out}"), np.load(f"{d}/ort/{out}")
                self.assertEqual(ours.shape, theirs.shape, f"{model} {out}")
                self.assertLessEqual(float(np.abs(ours - theirs).max()), 1e-4, f"{model} {out}")

    def test_bundled_models(self):
        images, _ = fashion_test(16)
        for entry in bundled_models().values():
            path = os.path.join(MODELS_DIR, entry["file"])
            with self.subTest(model=entry["file"]):
                self.compare(path, preprocess(path, images))

    def test_foreign_models(self):
        rng = np.random.default_rng(3)
        for f in sorted(os.listdir(FOREIGN_DIR)):
            if not f.endswith(".onnx"):
                continue
            path = os.path.join(FOREIGN_DIR, f)
            dims = [d.dim_value or 1 for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
            with self.subTest(model=f):
                self.compare(path, rng.standard_normal(dims).astype(np.float32))


if __name__ == "__main__":
    unittest.main()

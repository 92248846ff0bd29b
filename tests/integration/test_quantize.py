"""quantscope-cli quantize and the --config option of eval, run and bench, end to end on the
bundled models and Fashion-MNIST."""
import gzip
import json
import os
import unittest

import numpy as np

from cli_util import FASHION_DIR, MODELS_DIR, TempDir, cli_json, onednn_integer_kernels, run_cli

LENET = os.path.join(MODELS_DIR, "lenet.onnx")
HAVE_DATA = os.path.exists(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))


def quantize(model, out, *args, limit="500"):
    return cli_json("quantize", model, "--data", "fashion-mnist:train", "--limit", limit,
                    "-o", out, *args)


def eval_config(model, config, *args, limit="2000"):
    return cli_json("eval", model, "--config", config, "--data", "fashion-mnist:test",
                    "--limit", limit, *args)


def top1_with_2bit_layers(path, layers):
    """Top-1 on the test set with these layers' weights at 2 bits, everything else in float."""
    with TempDir() as d:
        cfg = os.path.join(d, "config.json")
        overrides = []
        for l in layers:
            overrides += ["--override", l["name"] + "=w2afloat"]
        quantize(path, cfg, "--weights", "float", "--acts", "float", *overrides, "--limit", "256")
        return eval_config(path, cfg, "--device", "cpu-onednn")["top1"]


@unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
class CliQuantize(unittest.TestCase):
    def test_w8a8_keeps_accuracy_and_reports_the_comparison(self):
        with TempDir() as d:
            cfg = os.path.join(d, "w8a8.json")
            q = quantize(LENET, cfg)
            self.assertEqual(q["quantized_weights"], 5)
            self.assertEqual(q["calibration_samples"], 500)
            j = eval_config(LENET, cfg)
            for key in ["fp32_top1", "top1", "agreement", "kl", "sqnr_db", "size_bytes"]:
                self.assertIn(key, j)
            self.assertEqual(j["mode"], "simulated")
            self.assertLess(abs(j["top1"] - j["fp32_top1"]), 0.5)
            self.assertGreater(j["agreement"], 98.0)
            self.assertGreater(j["sqnr_db"], 30.0)
            self.assertGreaterEqual(j["kl"], 0.0)
            # The paired count behind the top-1 difference, and McNemar's z from it.
            only_f, only_q = j["right_only_fp32"], j["right_only_quantized"]
            self.assertAlmostEqual(j["top1"] - j["fp32_top1"], 100.0 * (only_q - only_f) / j["samples"])
            self.assertAlmostEqual(j["mcnemar_z"], (only_q - only_f) / (only_f + only_q) ** 0.5
                                   if only_f + only_q else 0.0)
            # 8-bit weights: about a quarter of the float size.
            self.assertLess(j["size_bytes"], 0.3 * j["fp32_size_bytes"])
            # The file is versioned JSON holding the settings and the parameters.
            with open(cfg) as f:
                saved = json.load(f)
            self.assertEqual(saved["schema_version"], 1)
            self.assertEqual(saved["defaults"]["weight_bits"], 8)
            layers = cli_json("info", LENET)["layers"]
            self.assertEqual(set(saved["weights"]),
                             {l["name"] for l in layers if l["op"] in ("Conv", "Gemm")})

    def test_gptq_weight_only_4bit_within_a_point(self):
        with TempDir() as d:
            cfg = os.path.join(d, "w4.json")
            quantize(LENET, cfg, "--weights", "4", "--acts", "float", "--rounding", "gptq")
            j = eval_config(LENET, cfg)
            self.assertLess(j["fp32_top1"] - j["top1"], 1.0)
            with open(cfg) as f:
                saved = json.load(f)
            self.assertEqual({w["rounding"] for w in saved["weights"].values()}, {"gptq"})
            self.assertEqual(saved["activations"], {})

    def test_overrides_and_granularity(self):
        with TempDir() as d:
            layers = [l for l in cli_json("info", LENET)["layers"] if l["op"] in ("Conv", "Gemm")]
            first, last = layers[0]["name"], layers[-1]["name"]
            cfg = os.path.join(d, "mixed.json")
            # conv1 has 25 inputs per output, so groups of 2 need it left in float.
            quantize(LENET, cfg, "--weights", "4", "--granularity", "group:2",
                     "--override", f"{first}=float", "--override", f"{last}=w8a16", "--limit", "128")
            with open(cfg) as f:
                saved = json.load(f)
            self.assertNotIn(first, saved["weights"])
            self.assertEqual(saved["weights"][last]["bits"], 8)
            self.assertEqual(saved["weights"][last]["groups_per_row"], 42)  # 84 inputs / 2
            self.assertTrue(all(w["bits"] == 4 for n, w in saved["weights"].items() if n != last))
            acts16 = [a for a in saved["activations"].values() if a["bits"] == 16]
            self.assertEqual(len(acts16), 1)

    def test_run_and_bench_take_a_config(self):
        with TempDir() as d:
            cfg = os.path.join(d, "w4a8.json")
            quantize(LENET, cfg, "--weights", "4", "--limit", "128")
            with gzip.open(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")) as f:
                pixels = np.frombuffer(f.read(), np.uint8, offset=16)[: 3 * 784]
            x = ((pixels.reshape(3, 1, 28, 28) / 255.0 - 0.286) / 0.353).astype(np.float32)
            np.save(os.path.join(d, "x.npy"), x)
            run_cli("run", LENET, "--input", os.path.join(d, "x.npy"), "--output", os.path.join(d, "f.npy"))
            run_cli("run", LENET, "--config", cfg, "--input", os.path.join(d, "x.npy"),
                    "--output", os.path.join(d, "q.npy"))
            f, q = np.load(os.path.join(d, "f.npy")), np.load(os.path.join(d, "q.npy"))
            self.assertEqual(f.shape, q.shape)
            self.assertFalse(np.array_equal(f, q))  # quantization changes the numbers ...
            self.assertLess(np.abs(f - q).max(), 0.25 * np.abs(f).max())  # ... but not much
            b = cli_json("bench", LENET, "--config", cfg, "--runs", "3", "--warmup", "1",
                         "--min-seconds", "0")
            self.assertEqual(b["mode"], "simulated")
            self.assertGreater(b["median_ms"], 0)


class CliQuantizeErrors(unittest.TestCase):
    def fails(self, *args):
        rc, out, err = run_cli(*args, check=False)
        self.assertEqual(rc, 1, f"{args}: {err}")
        self.assertIn("error:", err)
        return err

    def test_bad_configurations_are_named(self):
        with TempDir() as d:
            cfg = os.path.join(d, "x.json")
            base = ["quantize", LENET, "--data", "fashion-mnist:train", "--limit", "8", "-o", cfg]
            self.assertIn("unknown node 'nope'", self.fails(*base, "--override", "nope=4"))
            self.assertIn("weight bits 9 out of range", self.fails(*base, "--weights", "9"))
            self.assertIn("bad group size", self.fails(*base, "--granularity", "group:0"))
            self.assertIn("calibrator", self.fails(*base, "--calib", "median"))
            self.assertFalse(os.path.exists(cfg))  # nothing half-written
            with open(cfg, "w") as f:
                f.write('{"format": "quantscope-quantization", "schema_version": 1, "weights": {"x": 1}}')
            err = self.fails("eval", LENET, "--config", cfg, "--data", "fashion-mnist:test", "--limit", "8")
            self.assertIn(cfg, err)
            err = self.fails("eval", LENET, "--config", os.path.join(d, "missing.json"),
                             "--data", "fashion-mnist:test", "--limit", "8")
            self.assertIn("cannot open", err)
            with open(cfg, "w") as f:
                f.write('{"format": "quantscope-quantization", "schema_version": 1}')
            self.assertIn("settings only", self.fails("run", LENET, "--config", cfg, "--input",
                                                      "x.npy", "--output", "y.npy"))

    @unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
    def test_config_of_another_model_is_refused(self):
        with TempDir() as d:
            cfg = os.path.join(d, "lenet.json")
            quantize(LENET, cfg, "--limit", "16")
            err = self.fails("eval", os.path.join(MODELS_DIR, "vit.onnx"), "--config", cfg,
                             "--data", "fashion-mnist:test", "--limit", "8")
            self.assertIn("this model does not have", err)

    def test_real_needs_integer_kernels(self):
        with TempDir() as d:
            cfg = os.path.join(d, "c.json")
            quantize(LENET, cfg, "--limit", "16") if HAVE_DATA else self.skipTest("no data")
            err = self.fails("eval", LENET, "--config", cfg, "--real", "--device", "cpu-ref",
                             "--data", "fashion-mnist:test", "--limit", "8")
            self.assertIn("no integer kernels", err)


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
class CliSensitivity(unittest.TestCase):
    def test_json_has_every_layer_and_bit_width(self):
        j = cli_json("sensitivity", LENET, "--data", "fashion-mnist:train", "--limit", "256",
                     "--bits", "2,4,8", "--device", "cpu-onednn")
        names = [l["name"] for l in cli_json("info", LENET)["layers"] if l["op"] in ("Conv", "Gemm")]
        self.assertEqual([l["name"] for l in j["layers"]], names)
        for l in j["layers"]:
            self.assertEqual(set(l["bits"]), {"2", "4", "8"})
            self.assertGreater(l["params"], 0)
            # Fewer bits, more damage.
            self.assertLess(l["bits"]["2"]["sqnr_db"], l["bits"]["8"]["sqnr_db"])
            self.assertGreaterEqual(l["bits"]["2"]["kl"], l["bits"]["8"]["kl"])
            for s in l["bits"].values():
                for key in ["kl", "sqnr_db", "agreement", "top1", "hawq"]:
                    self.assertIn(key, s)

    def test_errors_introduced_and_accumulated(self):
        with TempDir() as d:
            cfg = os.path.join(d, "w4a8.json")
            quantize(LENET, cfg, "--weights", "4", "--limit", "128")
            j = cli_json("errors", LENET, "--config", cfg, "--data", "fashion-mnist:test",
                         "--limit", "256", "--device", "cpu-onednn")
            layers = j["layers"]
            self.assertEqual(len(layers), 5)
            # The first layer reads the input: what it accumulated is what it introduced.
            self.assertAlmostEqual(layers[0]["introduced_sqnr_db"], layers[0]["accumulated_sqnr_db"], places=3)
            # Further on, error inherited from earlier layers adds to a layer's own.
            for l in layers[1:]:
                self.assertLess(l["accumulated_sqnr_db"], l["introduced_sqnr_db"], l["name"])

    def test_search_front_budget_and_baselines(self):
        with TempDir() as d:
            cfg = os.path.join(d, "best.json")
            j = cli_json("search", LENET, "--data", "fashion-mnist:train", "--limit", "300",
                         "--bits", "2,4,8", "--verify", "3", "--budget", "30000", "-o", cfg,
                         "--device", "cpu-onednn")
            front = j["front"]
            self.assertGreater(len(front), 3)
            costs = [p["cost"] for p in front]
            losses = [p["predicted_loss"] for p in front]
            self.assertEqual(costs, sorted(costs))
            self.assertTrue(all(a > b for a, b in zip(losses, losses[1:])))
            # The front is exact: no baseline beats it in predicted loss at its cost.
            for b in j["baselines"]:
                best = min(p["predicted_loss"] for p in front if p["cost"] <= b["cost"] + 1e-6)
                self.assertLessEqual(best, b["predicted_loss"] + 1e-12, b["label"])
                self.assertIsNotNone(b["measured"])
            # Each baseline is measured beside the front's point of least predicted loss at no
            # more cost (verified too).
            for b in j["baselines"]:
                m = front[b["front_match"]]
                self.assertLessEqual(m["cost"], b["cost"] * (1 + 1e-9), b["label"])
                self.assertEqual(m["predicted_loss"], min(p["predicted_loss"] for p in front
                                                          if p["cost"] <= b["cost"] * (1 + 1e-9)))
                self.assertIsNotNone(m["measured"], b["label"])
            # Three points spread along the front, the best under the budget, and those.
            matched = {b["front_match"] for b in j["baselines"]}
            self.assertLessEqual(sum(1 for p in front if p["measured"]), 4 + len(matched))
            self.assertGreaterEqual(sum(1 for p in front if p["measured"]), max(3, len(matched)))
            self.assertGreaterEqual(j["front_seconds"], 0)
            self.assertLessEqual(j["best"]["cost"], 30000)
            self.assertIsNotNone(j["rank_correlation"])
            # The written configuration is the best point's, and evaluates.
            with open(cfg) as f:
                saved = json.load(f)
            self.assertEqual({n: w["bits"] for n, w in saved["weights"].items()}, j["best"]["config"])
            e = eval_config(LENET, cfg, "--device", "cpu-onednn", limit="300")
            self.assertGreater(e["agreement"], 50)  # 2- and 4-bit layers at ~12 % of the size

    def test_search_evaluates_on_its_own_limit(self):
        j = cli_json("search", LENET, "--data", "fashion-mnist:train", "--limit", "100",
                     "--eval-data", "fashion-mnist:test", "--eval-limit", "250", "--bits", "4,8",
                     "--verify", "1", "--device", "cpu-onednn")
        # Top-1 on 250 samples comes in steps of 0.4 %.
        for p in j["baselines"]:
            self.assertAlmostEqual(p["measured"]["top1"] * 2.5 % 1.0, 0.0, places=6)
        rc, _, err = run_cli("search", LENET, "--data", "fashion-mnist:train", "--eval-limit", "9",
                             check=False)
        self.assertEqual(rc, 2)
        self.assertIn("--eval-limit needs --eval-data", err)

    def test_shards_merge_into_the_unsharded_sweep(self):
        args = ["sensitivity", LENET, "--data", "fashion-mnist:train", "--limit", "128",
                "--bits", "2,4,8", "--device", "cpu-onednn"]
        whole = cli_json(*args)
        with TempDir() as d:
            parts = []
            for i in range(3):
                part = os.path.join(d, f"part{i}.json")
                with open(part, "w") as f:
                    f.write(run_cli(*args, "--shard", f"{i}/3", "--json")[1])
                parts.append(part)
            merged = json.loads(run_cli("merge", *parts)[1])
            self.assertEqual(merged["layers"], whole["layers"])
            rc, _, err = run_cli("merge", parts[0], parts[0], check=False)
            self.assertEqual(rc, 1)
            self.assertIn("in two shards", err)
            rc, _, err = run_cli("merge", parts[0], parts[1], check=False)
            self.assertEqual(rc, 1)
            self.assertIn("a shard is missing", err)

    def test_the_ranking_means_something(self):
        """Quantizing the three layers ranked most sensitive to 2 bits costs more accuracy than
        quantizing the three ranked least sensitive."""
        for model in ["lenet", "mobilenet", "vit"]:
            path = os.path.join(MODELS_DIR, model + ".onnx")
            j = cli_json("sensitivity", path, "--data", "fashion-mnist:train", "--limit", "500",
                         "--bits", "2", "--device", "cpu-onednn")
            ranked = sorted(j["layers"], key=lambda l: l["bits"]["2"]["kl"], reverse=True)
            top1 = {which: top1_with_2bit_layers(path, chosen)
                    for which, chosen in [("most", ranked[:3]), ("least", ranked[-3:])]}
            self.assertLess(top1["most"], top1["least"], f"{model}: {top1}")


@unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
class CliLatencySearch(unittest.TestCase):
    """Per-layer latency tables and the latency objective, alone and with a second cost."""

    @classmethod
    def setUpClass(cls):
        cls.dir = TempDir()
        cls.tmp = cls.dir.__enter__()
        cls.table_path = os.path.join(cls.tmp, "lenet-onednn.json")
        cls.table = cli_json("latency-table", LENET, "--data", "fashion-mnist:train", "--limit",
                             "64", "--device", "cpu-onednn", "--bits", "4,8", "--batch", "4",
                             "-o", cls.table_path)

    @classmethod
    def tearDownClass(cls):
        cls.dir.__exit__(None, None, None)

    def test_the_table_times_every_layer_at_every_width(self):
        t = self.table
        self.assertEqual(t["device"], "cpu-onednn")
        self.assertEqual(t["batch"], 4)
        self.assertEqual(t["integer_kernels"], onednn_integer_kernels())
        self.assertEqual(len(t["layers"]), 5)
        for layer, by_bits in t["layers"].items():
            self.assertEqual(set(by_bits), {"4", "8"}, layer)
            self.assertTrue(all(ms >= 0 for ms in by_bits.values()), layer)
        for b in ("4", "8"):
            parts = sum(l[b] for l in t["layers"].values()) + t["rest_ms"][b]
            self.assertGreater(parts, 0)
            self.assertGreater(t["total_ms"][b], 0)
        with open(self.table_path) as f:
            self.assertEqual(json.load(f), t)  # the file holds what was printed

    def test_latency_front_adds_up_from_the_table(self):
        j = cli_json("search", LENET, "--data", "fashion-mnist:train", "--limit", "256",
                     "--bits", "4,8", "--objective", "latency:cpu-onednn", "--latency-table",
                     self.table_path, "--verify", "2")
        rest = sorted(self.table["rest_ms"].values())
        fixed = rest[len(rest) // 2]
        for p in j["front"] + j["baselines"]:
            predicted = fixed + sum(self.table["layers"][l][str(b)] for l, b in p["config"].items())
            self.assertAlmostEqual(p["cost"], predicted, places=9)
        costs = [p["cost"] for p in j["front"]]
        self.assertEqual(costs, sorted(costs))
        verified = [p for p in j["front"] + j["baselines"] if p["measured"]]
        self.assertTrue(verified)
        for p in verified:
            self.assertGreater(p["measured"]["latency_ms"], 0)
        self.assertTrue(any("latency" in n for n in j["notes"]))

    def test_two_costs_hold_the_second_under_its_budget(self):
        ms = [sum(self.table["layers"][l][b] for l in self.table["layers"]) for b in ("4", "8")]
        rest = sorted(self.table["rest_ms"].values())
        budget = rest[len(rest) // 2] + (min(ms) + max(ms)) / 2  # the uniform 4 or 8 fits
        j = cli_json("search", LENET, "--data", "fashion-mnist:train", "--limit", "256",
                     "--bits", "4,8", "--objective", "size", "--also", "latency:cpu-onednn",
                     "--latency-table", self.table_path, "--also-budget", str(budget),
                     "--verify", "1")
        front = j["front"]
        self.assertTrue(front)
        for p in front:
            self.assertLessEqual(p["cost2"], budget + 1e-12)
        # No point beats another in size, latency and predicted loss at once.
        for p in front:
            for q in front:
                if q is p:
                    continue
                self.assertFalse(q["cost"] <= p["cost"] and q["cost2"] <= p["cost2"] and
                                 q["predicted_loss"] < p["predicted_loss"] - 1e-12)

    def test_bad_latency_arguments(self):
        rc, _, err = run_cli("search", LENET, "--data", "fashion-mnist:train", "--objective",
                             "latency", check=False)
        self.assertEqual(rc, 2)
        self.assertIn("latency:cpu-onednn", err)
        rc, _, err = run_cli("search", LENET, "--data", "fashion-mnist:train", "--limit", "64",
                             "--objective", "latency:cpu-ref", "--latency-table", self.table_path,
                             check=False)
        self.assertEqual(rc, 1)
        self.assertIn("measured on cpu-onednn", err)
        with TempDir() as d:
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as f:
                f.write('{"kind": "quantscope latency table", "schema": 1, "layers": 3}')
            rc, _, err = run_cli("search", LENET, "--data", "fashion-mnist:train", "--limit", "64",
                                 "--objective", "latency:cpu-onednn", "--latency-table", bad,
                                 check=False)
            self.assertEqual(rc, 1)
            self.assertIn("bad.json", err)


@unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
class CliHessian(unittest.TestCase):
    """Hessian traces, the HAWQ estimate they give the sensitivity sweep, and search with it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = TempDir()
        cls.tmp = cls.dir.__enter__()
        cls.traces = {}
        for model in ["lenet", "mobilenet", "vit"]:
            path = os.path.join(cls.tmp, model + "-hessian.json")
            j = cli_json("hessian", os.path.join(MODELS_DIR, model + ".onnx"), "--data",
                         "fashion-mnist:train", "--limit", "128", "--probes", "40")
            with open(path, "w") as f:
                json.dump(j, f)
            cls.traces[model] = (path, j)

    @classmethod
    def tearDownClass(cls):
        cls.dir.__exit__(None, None, None)

    def test_traces_have_error_bars_and_the_layerwise_trace(self):
        _, j = self.traces["lenet"]
        self.assertEqual(j["loss"], "cross-entropy")
        self.assertEqual(j["samples"], 128)
        self.assertLessEqual(j["probes"], 40)
        self.assertEqual([l["name"] for l in j["layers"]],
                         ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm", "/fc3/Gemm"])
        for l in j["layers"]:
            self.assertGreater(l["stderr"], 0, l["name"])
            self.assertGreater(l["layerwise_trace"], 0, l["name"])
            self.assertGreater(l["params"], 0, l["name"])
        # A ReLU classifier's curvature: positive on every layer beyond a few standard errors.
        for l in j["layers"]:
            self.assertGreater(l["trace"], 2 * l["stderr"], l["name"])

    def test_image_to_image_models_use_the_kl_from_the_float_output(self):
        j = cli_json("hessian", os.path.join(MODELS_DIR, "autoencoder.onnx"), "--data",
                     "fashion-mnist:test", "--limit", "16", "--probes", "8", "--no-layerwise")
        self.assertEqual(j["loss"], "kl-to-float")
        self.assertEqual(len(j["layers"]), 6)
        self.assertTrue(all(l["layerwise_trace"] is None for l in j["layers"]))

    def test_sensitivity_carries_the_hawq_estimate(self):
        path, traces = self.traces["lenet"]
        plain = cli_json("sensitivity", LENET, "--data", "fashion-mnist:train", "--limit", "64",
                         "--bits", "2,4,8")
        self.assertTrue(all(b["hawq"] is None for l in plain["layers"] for b in l["bits"].values()))
        j = cli_json("sensitivity", LENET, "--data", "fashion-mnist:train", "--limit", "64",
                     "--bits", "2,4,8", "--hessian", path)
        trace = {l["name"]: l["trace"] / l["params"] for l in traces["layers"]}
        for l in j["layers"]:
            h = [l["bits"][b]["hawq"] for b in ("2", "4", "8")]
            # tr(H)/n times a squared error that shrinks with every added bit.
            self.assertGreater(h[0], h[1], l["name"])
            self.assertGreater(h[1], h[2], l["name"])
            self.assertGreater(h[2], 0, l["name"])
            self.assertGreater(trace[l["name"]], 0)
        self.assertTrue(any("HAWQ" in n for n in j["notes"]))

    def test_the_hawq_ranking_means_something(self):
        """Quantizing the three layers HAWQ ranks most sensitive to 2 bits costs more accuracy
        than quantizing the three it ranks least sensitive."""
        for model in ["lenet", "mobilenet", "vit"]:
            path = os.path.join(MODELS_DIR, model + ".onnx")
            j = cli_json("sensitivity", path, "--data", "fashion-mnist:train", "--limit", "128",
                         "--bits", "2", "--device", "cpu-onednn", "--hessian", self.traces[model][0])
            ranked = sorted(j["layers"], key=lambda l: l["bits"]["2"]["hawq"], reverse=True)
            top1 = {which: top1_with_2bit_layers(path, chosen)
                    for which, chosen in [("most", ranked[:3]), ("least", ranked[-3:])]}
            self.assertLess(top1["most"], top1["least"], f"{model}: {top1}")

    def test_search_with_the_hawq_estimate(self):
        path, _ = self.traces["lenet"]
        j = cli_json("search", LENET, "--data", "fashion-mnist:train", "--limit", "128",
                     "--bits", "2,4,8", "--estimate", "hawq", "--hessian", path, "--verify", "3")
        self.assertGreater(len(j["front"]), 3)
        losses = [p["predicted_loss"] for p in j["front"]]
        self.assertEqual(losses, sorted(losses, reverse=True))
        self.assertTrue(any("HAWQ" in n for n in j["notes"]))

    def test_bad_hessian_arguments(self):
        with TempDir() as d:
            bogus = os.path.join(d, "bogus.json")
            with open(bogus, "w") as f:
                f.write("{\"layers\": [{\"name\": \"/fc1/Gemm\"}]}")
            rc, _, err = run_cli("sensitivity", LENET, "--data", "fashion-mnist:train", "--limit",
                                 "8", "--bits", "4", "--hessian", bogus, check=False)
            self.assertNotEqual(rc, 0)
            self.assertIn("bogus.json", err)
            self.assertIn("trace", err)
        rc, _, err = run_cli("hessian", LENET, "--data", "fashion-mnist:train", "--probes", "0",
                             check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("probes", err)
        rc, _, err = run_cli("search", LENET, "--data", "fashion-mnist:train", "--hessian", "x.json",
                             check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("--estimate hawq", err)


@unittest.skipUnless(HAVE_DATA, "dataset-fashion-mnist is not installed")
class CliCompare(unittest.TestCase):
    """One sample float vs quantized: top-k, histograms and pictures."""

    def test_classifier_top_k_and_histograms(self):
        with TempDir() as d:
            cfg = os.path.join(d, "w3.json")
            quantize(LENET, cfg, "--weights", "3", "--granularity", "tensor", limit="128")
            j = cli_json("compare", LENET, "--config", cfg, "--data", "fashion-mnist:test",
                         "--sample", "4", "--topk", "3", "--bins", "40")
            self.assertTrue(j["classifier"])
            self.assertEqual(j["sample"], 4)
            self.assertIsNotNone(j["label"])
            self.assertEqual(j["files"], [])
            for k in ("float_topk", "quant_topk"):
                p = [c["probability"] for c in j[k]]
                self.assertEqual(len(p), 3)
                self.assertEqual(p, sorted(p, reverse=True))
            self.assertEqual(len(j["activations"]), 5)
            self.assertEqual(len(j["weights"]), 5)
            for w in j["weights"]:
                self.assertEqual(len(w["grid"]), 7)  # 3-bit symmetric: codes -3..3
                self.assertEqual(len(w["float_hist"]["counts"]), 40)
                self.assertLessEqual(sum(1 for c in w["quant_hist"]["counts"] if c), 7)
            fc1 = j["weights"][2]
            self.assertEqual(sum(fc1["float_hist"]["counts"]), 48000)
            rc, _, err = run_cli("compare", LENET, "--config", cfg, "--data", "fashion-mnist:test",
                                 "--limit", "10", "--sample", "10", check=False)
            self.assertEqual(rc, 1)
            self.assertIn("out of range", err)

    def test_image_outputs_and_error_maps_as_png(self):
        model = os.path.join(MODELS_DIR, "autoencoder.onnx")
        with TempDir() as d:
            cfg = os.path.join(d, "w4.json")
            quantize(model, cfg, "--weights", "4", limit="64")
            out = os.path.join(d, "pictures")
            j = cli_json("compare", model, "--config", cfg, "--data", "fashion-mnist:test",
                         "-o", out)
            self.assertFalse(j["classifier"])
            self.assertEqual(j["output_shape"], [1, 1, 28, 28])
            self.assertGreater(j["max_abs_error"], 0)
            names = {os.path.basename(f) for f in j["files"]}
            for n in ("input.png", "output_float.png", "output_quantized.png", "error_map.png"):
                self.assertIn(n, names)
            self.assertEqual(len(names), 4 + 6 + 6)  # and activations and weights per layer
            for f in j["files"]:
                with open(f, "rb") as fh:
                    self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n", f)


class CliProject(unittest.TestCase):
    """--project: results kept in a project file, and answered from it for the same inputs."""

    def test_a_repeated_command_answers_from_the_project(self):
        with TempDir() as tmp:
            project = os.path.join(tmp, "p.qsproj")
            model = os.path.join(tmp, "lenet.onnx")
            with open(os.path.join(MODELS_DIR, "lenet.onnx"), "rb") as src, open(model, "wb") as dst:
                dst.write(src.read())
            sweep = ["sensitivity", model, "--data", "fashion-mnist:test", "--limit", "100",
                     "--project", project]

            def run(*args):
                _, out, err = run_cli(*args, "--json")
                return json.loads(out), "the result computed" in err

            first, cached = run(*sweep, "--bits", "4,8")
            self.assertFalse(cached)
            with open(project) as f:
                p = json.load(f)
            self.assertEqual(p["format"], "quantscope-project")
            self.assertEqual(p["model"]["path"], "lenet.onnx")  # beside the project: relative
            self.assertEqual([c["kind"] for c in p["cache"]], ["sensitivity"])

            again, cached = run(*sweep, "--bits", "4,8")
            self.assertTrue(cached)
            self.assertEqual(again["layers"], first["layers"])
            self.assertEqual(again["samples"], first["samples"])

            # A changed option is computed and kept beside the first.
            _, cached = run(*sweep, "--bits", "4,6")
            self.assertFalse(cached)
            traces = ["hessian", model, "--data", "fashion-mnist:test", "--limit", "64",
                      "--probes", "8", "--project", project]
            t1, cached = run(*traces)
            self.assertFalse(cached)
            t2, cached = run(*traces, "--threads", "1")  # threads do not change the traces
            self.assertTrue(cached)
            self.assertEqual(t1["layers"], t2["layers"])
            with open(project) as f:
                kinds = sorted(c["kind"] for c in json.load(f)["cache"])
            self.assertEqual(kinds, ["hessian", "sensitivity", "sensitivity"])

            # A quantization, and its comparison with the float model, answered the same way.
            config = os.path.join(tmp, "q.json")
            quantize = ["quantize", model, "--data", "fashion-mnist:train", "--limit", "64",
                        "--weights", "4", "-o", config, "--project", project]
            q1, cached = run(*quantize)
            self.assertFalse(cached)
            q2, cached = run(*quantize)
            self.assertTrue(cached)
            self.assertEqual(q1["size_bytes"], q2["size_bytes"])
            compare = ["eval", model, "--data", "fashion-mnist:test", "--limit", "64",
                       "--config", config, "--project", project]
            e1, cached = run(*compare)
            self.assertFalse(cached)
            e2, cached = run(*compare)
            self.assertTrue(cached)
            self.assertEqual(e1["top1"], e2["top1"])
            self.assertEqual(e1["kl"], e2["kl"])

            # The model changes (an unknown field 99 = 1: still a model): computed again.
            with open(model, "ab") as f:
                f.write(b"\x98\x06\x01")
            _, cached = run(*sweep, "--bits", "4,8")
            self.assertFalse(cached)

    def test_a_latency_table_is_kept_per_device_and_reused(self):
        with TempDir() as tmp:
            project = os.path.join(tmp, "p.qsproj")
            search = ["search", os.path.join(MODELS_DIR, "lenet.onnx"), "--data",
                      "fashion-mnist:train", "--limit", "128", "--bits", "4,8", "--objective",
                      "latency:cpu-onednn", "--verify", "1", "--project", project]
            _, out, err = run_cli(*search, "--json")
            self.assertNotIn("latency table: the result computed", err)
            first = json.loads(out)
            # Another search (a budget) on the same device reuses the table...
            _, out, err = run_cli(*search, "--budget", str(first["front"][0]["cost"]), "--json")
            self.assertIn("latency table: the result computed", err)
            self.assertNotIn("search: the result computed", err)  # ...but is a search of its own
            self.assertEqual([p["cost"] for p in json.loads(out)["front"]],
                             [p["cost"] for p in first["front"]])
            with open(project) as f:
                kinds = sorted(c["kind"] for c in json.load(f)["cache"])
            self.assertEqual(kinds, ["latency table", "search", "search"])
            # ...and so does latency-table with the same settings (one recipe for both).
            _, out, err = run_cli("latency-table", os.path.join(MODELS_DIR, "lenet.onnx"), "--data",
                                  "fashion-mnist:train", "--limit", "128", "--bits", "4,8",
                                  "--device", "cpu-onednn", "--project", project, "--json")
            self.assertIn("latency table: the result computed", err)
            self.assertEqual(sorted(json.loads(out)["total_ms"]), ["4", "8"])

    def test_a_damaged_project_is_an_error_in_words(self):
        with TempDir() as tmp:
            project = os.path.join(tmp, "bad.qsproj")
            with open(project, "w") as f:
                f.write('{"format": "quantscope-project", "version": 1, "model": 3}')
            rc, _, err = run_cli("hessian", os.path.join(MODELS_DIR, "lenet.onnx"), "--data",
                                 "fashion-mnist:test", "--limit", "16", "--probes", "2",
                                 "--project", project, check=False)
            self.assertNotEqual(rc, 0)
            self.assertIn("bad.qsproj", err)
            self.assertIn("model", err)

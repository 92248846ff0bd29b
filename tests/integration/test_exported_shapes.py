"""Models as exporters write them, through every command that reads data, with default options:
a batch fixed to 1 (torch.onnx.export without dynamic_axes) and a dynamic length."""
import json
import os
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cli_util import MODELS_DIR, TempDir, cli_json, run_cli

DATA = ["--data", "fashion-mnist:test", "--limit", "24"]


def with_fixed_batch(src, dst, batch):
    model = onnx.load(src)
    for value in list(model.graph.input) + list(model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_param")
        dim.dim_value = batch
    onnx.save(model, dst)


class FixedBatch(unittest.TestCase):
    def test_every_command_that_reads_data(self):
        with TempDir() as d:
            model = f"{d}/lenet_b1.onnx"
            with_fixed_batch(os.path.join(MODELS_DIR, "lenet.onnx"), model, 1)
            reference = cli_json("eval", os.path.join(MODELS_DIR, "lenet.onnx"), *DATA)
            _, out, err = run_cli("eval", model, *DATA, "--json")
            self.assertIn("fixes its batch to 1", err)
            self.assertEqual(err.count("fixes its batch"), 1)
            result = json.loads(out)
            self.assertEqual(result["samples"], 24)
            self.assertAlmostEqual(result["top1"], reference["top1"])

            run_cli("quantize", model, *DATA, "-o", f"{d}/q.json")
            pair = cli_json("eval", model, "--config", f"{d}/q.json", *DATA)
            self.assertEqual(pair["samples"], 24)
            self.assertGreater(pair["agreement"], 90.0)
            run_cli("quantize", model, *DATA, "--weights", "4", "--rounding", "gptq", "-o", f"{d}/g.json")
            sens = cli_json("sensitivity", model, *DATA, "--bits", "4,8")
            self.assertGreater(len(sens["layers"]), 0)
            traces = cli_json("hessian", model, *DATA, "--probes", "4", "--min-probes", "2")
            self.assertEqual(traces["samples"], 24)
            run_cli("search", model, *DATA, "--bits", "4,8", "--json")
            run_cli("errors", model, "--config", f"{d}/q.json", *DATA, "--json")
            run_cli("compare", model, "--config", f"{d}/q.json", *DATA, "--json")
            run_cli("export", model, "--config", f"{d}/q.json", *DATA, "-o", f"{d}/pkg")
            check = np.load(f"{d}/pkg/selfcheck/input_0_input.npy")
            self.assertEqual(check.shape[0], 1)  # the package checks the model's own batch
            bench = cli_json("bench", model, "--batch", "8", "--runs", "3")
            self.assertEqual(bench["batch"], 1)

    def test_a_batch_of_four_takes_a_partial_last_batch(self):
        with TempDir() as d:
            model = f"{d}/lenet_b4.onnx"
            with_fixed_batch(os.path.join(MODELS_DIR, "lenet.onnx"), model, 4)
            reference = cli_json("eval", os.path.join(MODELS_DIR, "lenet.onnx"), "--data",
                                 "fashion-mnist:test", "--limit", "23")
            result = cli_json("eval", model, "--data", "fashion-mnist:test", "--limit", "23")
            self.assertEqual(result["samples"], 23)
            self.assertAlmostEqual(result["top1"], reference["top1"])


class DynamicLength(unittest.TestCase):
    def test_audio_front_end_loads_runs_and_info_names_the_length(self):
        rng = np.random.default_rng(3)
        w = numpy_helper.from_array((rng.standard_normal((4, 1, 512)) * 0.05).astype(np.float32), "w")
        axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
        conv = helper.make_node("Conv", ["u", "w"], ["frames"], name="frames", strides=[160])
        graph = helper.make_graph(
            [helper.make_node("Unsqueeze", ["audio", "axes"], ["u"], name="unsqueeze"), conv],
            "audio", [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", "samples"])],
            [helper.make_tensor_value_info("frames", TensorProto.FLOAT, None)], [w, axes])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        with TempDir() as d:
            onnx.save(model, f"{d}/audio.onnx")
            info = cli_json("info", f"{d}/audio.onnx")
            self.assertEqual(info["layers"][0]["output_dims"], ["batch", "1", "samples"])
            self.assertEqual(info["layers"][1]["output_dims"], ["batch", "4", "?"])
            audio = rng.standard_normal((2, 4000)).astype(np.float32)
            np.save(f"{d}/x.npy", audio)
            run_cli("run", f"{d}/audio.onnx", "--input", f"{d}/x.npy", "--output", f"{d}/y.npy")
            y = np.load(f"{d}/y.npy")
            frames = (4000 - 512) // 160 + 1
            self.assertEqual(y.shape, (2, 4, frames))
            windows = np.stack([audio[:, f * 160:f * 160 + 512] for f in range(frames)], axis=2)
            expected = np.einsum("ck,bkf->bcf", numpy_helper.to_array(w)[:, 0, :], windows)
            np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


if __name__ == "__main__":
    unittest.main()

"""Language models: the bundled decoder (resources/models/decoder) scored, compared and run by
quantscope-cli against ONNX Runtime running the same ONNX with its own cache loop
(tests/peer/ort_decoder.mjs), on the test split the decoder's PyTorch perplexity is of. Token ids
come from python3-sentencepiece, so the tokenizer is checked on the way too. A decoder of another
family (GPT-2's architecture with its published tokenizer.json) is checked the same way."""
import json
import math
import os
import subprocess
import unittest

from cli_util import MODELS_DIR, PEER_DIR, SOURCE_DIR, TempDir, peer_available, run_cli

try:
    import numpy
    import sentencepiece
except ImportError:  # Debian's python3-numpy and python3-sentencepiece
    sentencepiece = None

DECODER_DIR = os.path.join(MODELS_DIR, "decoder")
MODEL = os.path.join(DECODER_DIR, "decoder.onnx")
TOKENIZER = os.path.join(DECODER_DIR, "tokenizer.model")
TEST_TEXT = os.path.join(DECODER_DIR, "test.txt")
DEVICE = "cpu-onednn"


def test_stream():
    """The test split as the decoder's perplexity reads it: each chapter led by <s>."""
    sp = sentencepiece.SentencePieceProcessor(model_file=TOKENIZER)
    ids = []
    with open(TEST_TEXT, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                ids += [sp.bos_id()] + sp.encode(line.rstrip("\n"))
    return ids


def made_by(script, *args):
    """Runs tests/models/SCRIPT (which makes a model into the zoo cache once) and returns the
    JSON it prints; the test class is skipped when PyTorch or onnx is missing (exit 77)."""
    p = subprocess.run(["/usr/bin/python3", os.path.join(SOURCE_DIR, "tests", "models", script),
                        *args], capture_output=True, text=True, timeout=1200)
    if p.returncode == 77:
        raise unittest.SkipTest("skipped 'python3-torch or python3-onnx is not installed'")
    if p.returncode != 0:
        raise AssertionError(f"{script} failed: {p.stderr}")
    return json.loads(p.stdout)


def run_ort(*args):
    p = subprocess.run(["node", os.path.join(PEER_DIR, "ort_decoder.mjs"), *args],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"onnxruntime failed: {p.stderr}")
    return json.loads(p.stdout)


@unittest.skipUnless(sentencepiece is not None, "skipped 'python3-sentencepiece is not installed'")
@unittest.skipUnless(os.path.exists(MODEL), "skipped 'no bundled decoder'")
class DecoderText(unittest.TestCase):
    def eval_json(self, *args):
        return json.loads(run_cli("eval", MODEL, "--device", DEVICE, "--json", *args)[1])

    @unittest.skipUnless(peer_available(), "skipped 'onnxruntime-node is not installed'")
    def test_perplexity_matches_onnx_runtime_on_the_same_windows(self):
        ids = test_stream()
        with TempDir() as d:
            ids_json = os.path.join(d, "ids.json")
            with open(ids_json, "w") as f:
                json.dump(ids, f)
            for context, stride, limit in ((256, 256, 6), (128, 48, 5)):
                ours = self.eval_json("--data", "text:" + TEST_TEXT, "--tokenizer", TOKENIZER,
                                      "--context", str(context), "--stride", str(stride),
                                      "--limit", str(limit))
                peer = run_ort("perplexity", MODEL, ids_json, str(context), str(stride), str(limit))
                self.assertEqual((ours["windows"], ours["tokens"]), (peer["windows"], peer["tokens"]))
                self.assertAlmostEqual(ours["nll"] / peer["nll"], 1.0, delta=1e-5)
                self.assertAlmostEqual(ours["perplexity"], math.exp(peer["nll"] / peer["tokens"]),
                                       delta=1e-4 * ours["perplexity"])

    def test_perplexity_of_the_test_split_is_pytorchs_to_4_digits(self):
        with open(os.path.join(DECODER_DIR, "decoder.json")) as f:
            recorded = json.load(f)["perplexity"]
        ours = self.eval_json("--data", "text:" + TEST_TEXT, "--tokenizer", TOKENIZER,
                              "--context", str(recorded["context"]))
        self.assertEqual(ours["tokens"], recorded["test_tokens"])
        self.assertEqual(f"{ours['perplexity']:.4g}", f"{recorded['test']:.4g}")

    def test_token_ids_give_the_same_scores_as_the_text(self):
        ids = test_stream()
        with TempDir() as d:
            path = os.path.join(d, "ids.npy")
            numpy.save(path, numpy.array(ids, dtype=numpy.int64))
            text = self.eval_json("--data", "text:" + TEST_TEXT, "--tokenizer", TOKENIZER,
                                  "--context", "64", "--limit", "3")
            tokens = self.eval_json("--data", "tokens:" + path, "--context", "64", "--limit", "3")
            # A model with no tokenizer beside it: the ids are scored, their bytes not known.
            alone = os.path.join(d, "decoder.onnx")
            os.symlink(MODEL, alone)
            _, out, _ = run_cli("eval", alone, "--device", DEVICE, "--json", "--data",
                                "tokens:" + path, "--context", "64", "--limit", "3")
            bare = json.loads(out)
        self.assertEqual(text["tokens"], tokens["tokens"])
        self.assertAlmostEqual(text["nll"], tokens["nll"], delta=1e-9 * text["nll"])
        self.assertEqual(text["bits_per_byte"], tokens["bits_per_byte"])
        self.assertAlmostEqual(bare["nll"], tokens["nll"], delta=1e-9 * text["nll"])
        self.assertIsNone(bare["bits_per_byte"])
        self.assertAlmostEqual(text["bits_per_byte"],
                               text["nll"] / math.log(2) / text["bytes"], places=9)
        self.assertGreater(text["bytes"], 3 * text["tokens"])  # words, not bytes, per token

    def test_a_model_against_itself_and_against_another_device(self):
        common = ["--data", "text:" + TEST_TEXT, "--tokenizer", TOKENIZER, "--context", "64",
                  "--limit", "2"]
        same = self.eval_json(*common, "--against", MODEL)
        self.assertEqual(same["same_top_percent"], 100.0)
        self.assertLess(same["kld"]["max"], 1e-9)
        self.assertEqual(same["ppl_ratio"], 1.0)
        _, out, _ = run_cli("eval", MODEL, "--device", DEVICE, *common, "--against", MODEL)
        for label in ("perplexity", "ln(PPL ratio)", "KL divergence", "delta p", "same top"):
            self.assertIn(label, out)

    def test_bad_text_and_a_model_that_is_no_decoder_are_errors_in_words(self):
        with TempDir() as d:
            bad = os.path.join(d, "latin1.txt")
            with open(bad, "wb") as f:
                f.write(b"fine\ncaf\xe9\n")
            code, _, err = run_cli("eval", MODEL, "--data", "text:" + bad, "--tokenizer",
                                   TOKENIZER, check=False)
            self.assertEqual(code, 1)
            self.assertIn("latin1.txt:2: not UTF-8 text", err)
        # Without --tokenizer: the tokenizer.model beside the model, else an error.
        _, out, err = run_cli("eval", MODEL, "--data", "text:" + TEST_TEXT, "--limit", "1",
                              "--device", DEVICE)
        self.assertIn("tokenizer.model (beside the model", err)
        self.assertIn("perplexity", out)
        with TempDir() as d:
            alone = os.path.join(d, "decoder.onnx")
            os.symlink(MODEL, alone)
            code, _, err = run_cli("eval", alone, "--data", "text:" + TEST_TEXT, check=False)
            self.assertEqual(code, 2)
            self.assertIn("missing --tokenizer", err)
        classifier = os.path.join(MODELS_DIR, "lenet.onnx")
        code, _, err = run_cli("generate", classifier, "--tokenizer", TOKENIZER, "--prompt", "x",
                               check=False)
        self.assertEqual(code, 1)
        self.assertIn("not a language model", err)
        code, _, err = run_cli("eval", classifier, "--data", "text:" + TEST_TEXT, "--tokenizer",
                               TOKENIZER, check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("not a language model", err)


@unittest.skipUnless(sentencepiece is not None, "skipped 'python3-sentencepiece is not installed'")
@unittest.skipUnless(os.path.exists(MODEL), "skipped 'no bundled decoder'")
@unittest.skipUnless(peer_available(), "skipped 'onnxruntime-node is not installed'")
class DecoderGenerate(unittest.TestCase):
    def test_64_greedy_tokens_are_onnx_runtimes_with_and_without_its_cache(self):
        sp = sentencepiece.SentencePieceProcessor(model_file=TOKENIZER)
        prompt_text = "And God said unto Moses,"
        _, out, _ = run_cli("generate", MODEL, "--device", DEVICE, "--tokenizer", TOKENIZER,
                            "--prompt", prompt_text, "-n", "64", "--json")
        ours = json.loads(out)
        prompt = [sp.bos_id()] + sp.encode(prompt_text)
        self.assertEqual(ours["prompt_tokens"], prompt)
        with TempDir() as d:
            path = os.path.join(d, "prompt.json")
            with open(path, "w") as f:
                json.dump(prompt, f)
            cached = run_ort("generate", MODEL, path, "64", "cache")["tokens"]
            recomputed = run_ort("generate", MODEL, path, "64", "nocache")["tokens"]
        self.assertEqual(cached, recomputed)
        eos = sp.eos_id()
        expected = cached[:cached.index(eos) + 1] if eos in cached else cached
        self.assertEqual(ours["tokens"], expected)
        self.assertEqual(ours["text"], sp.decode([t for t in expected if t != eos]))
        self.assertGreater(ours["decode_tokens_per_s"], 0)


@unittest.skipUnless(sentencepiece is not None, "skipped 'python3-sentencepiece is not installed'")
@unittest.skipUnless(os.path.exists(MODEL), "skipped 'no bundled decoder'")
class DecoderExportedDifferently(unittest.TestCase):
    """The same weights exported by torch.onnx without a cache at opset 17 (input_ids -> logits,
    positions from Range and the causal mask from LessOrEqual and Where inside the graph),
    made by tests/models/decoder_variants.py into ~/.cache/quantscope/zoo."""

    @classmethod
    def setUpClass(cls):
        cls.nocache = made_by("decoder_variants.py")["nocache"]

    def test_it_scores_and_generates_as_the_cached_export(self):
        common = ["--device", DEVICE, "--data", "text:" + TEST_TEXT, "--tokenizer", TOKENIZER,
                  "--context", "128", "--limit", "3"]
        pair = json.loads(run_cli("eval", MODEL, *common, "--against", self.nocache, "--json")[1])
        self.assertEqual(pair["same_top_percent"], 100.0)
        self.assertLess(pair["kld"]["max"], 1e-6)
        self.assertAlmostEqual(pair["ppl_ratio"], 1.0, delta=1e-6)
        args = ["--device", DEVICE, "--tokenizer", TOKENIZER, "--prompt", "In the beginning",
                "-n", "24", "--json"]
        cached = json.loads(run_cli("generate", MODEL, *args)[1])
        recomputed = json.loads(run_cli("generate", self.nocache, *args)[1])
        self.assertEqual(cached["tokens"], recomputed["tokens"])


GPT2_TOKENIZER_DIR = os.path.join(PEER_DIR, "node_modules", "@lenml", "tokenizer-gpt2", "models")


@unittest.skipUnless(peer_available(), "skipped 'onnxruntime-node is not installed'")
@unittest.skipUnless(os.path.isfile(os.path.join(GPT2_TOKENIZER_DIR, "tokenizer.json")),
                     "skipped 'GPT-2's tokenizer.json from npm is not installed (tests/peer)'")
class ForeignGpt2Decoder(unittest.TestCase):
    """A decoder of another family: GPT-2's architecture (LayerNorm, learned positions, a fused
    q/k/v projection, tanh GELU, a causal mask sliced from a constant table of 256 positions)
    exported at opset 13 with a cache, with GPT-2's published tokenizer.json beside it; made by
    tests/models/gpt2_decoder.py into ~/.cache/quantscope/zoo. Token ids for ONNX Runtime come
    from Hugging Face's JavaScript tokenizer, so the whole path is checked against other code."""

    @classmethod
    def setUpClass(cls):
        cls.model = made_by("gpt2_decoder.py", "--tokenizer-dir", GPT2_TOKENIZER_DIR)["model"]

    def hf_ids(self, texts):
        with TempDir() as d:
            path = os.path.join(d, "texts.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps(t) + "\n")
            p = subprocess.run(["node", os.path.join(PEER_DIR, "hf_tokenize.mjs"),
                                os.path.dirname(self.model), path],
                               capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [row["ids"] for row in json.loads(p.stdout)["texts"]]

    def test_perplexity_matches_onnx_runtime(self):
        with open(TEST_TEXT, encoding="utf-8") as f:
            documents = [line.rstrip("\n") for line in f if line.strip()][:2]
        ids = [i for doc in self.hf_ids(documents) for i in doc]  # GPT-2 puts nothing between
        _, out, err = run_cli("eval", self.model, "--device", DEVICE, "--json", "--data",
                              "text:" + TEST_TEXT, "--context", "128", "--limit", "4")
        self.assertIn("tokenizer.json (beside the model", err)
        ours = json.loads(out)
        with TempDir() as d:
            ids_json = os.path.join(d, "ids.json")
            with open(ids_json, "w") as f:
                json.dump(ids, f)
            peer = run_ort("perplexity", self.model, ids_json, "128", "128", "4")
        self.assertEqual((ours["windows"], ours["tokens"]), (peer["windows"], peer["tokens"]))
        self.assertAlmostEqual(ours["nll"] / peer["nll"], 1.0, delta=1e-5)

    def test_greedy_tokens_are_onnx_runtimes_past_the_models_positions(self):
        # 150 tokens after the prompt take the padded cache to 256 rows, past the 256 positions
        # the model's causal table has: the session goes on with the past as it is.
        prompt_text = "It was the best of times, it was the worst of times,"
        _, out, _ = run_cli("generate", self.model, "--device", DEVICE, "--prompt", prompt_text,
                            "-n", "150", "--json")
        ours = json.loads(out)
        prompt = self.hf_ids([prompt_text])[0]
        self.assertEqual(ours["prompt_tokens"], prompt)
        with TempDir() as d:
            path = os.path.join(d, "prompt.json")
            with open(path, "w") as f:
                json.dump(prompt, f)
            peer = run_ort("generate", self.model, path, "150", "cache")["tokens"]
        self.assertEqual(ours["tokens"], peer)
        self.assertGreater(len(set(peer)), 20)  # many paths through the model, not one token
        # Past the table's 256 positions the model cannot go: an error that says so.
        code, _, err = run_cli("generate", self.model, "--device", DEVICE, "--prompt",
                               prompt_text, "-n", "260", check=False)
        self.assertEqual(code, 1)
        self.assertIn("tokens of context (more than the model takes?)", err)


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(os.path.exists(MODEL), "skipped 'no bundled decoder'")
class DecoderQuantize(unittest.TestCase):
    """Weight-only quantization of the bundled decoder, calibrated on windows of text: GPTQ
    against round-to-nearest, scored on other chapters than those it saw."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        d = cls.tmp.__enter__()
        with open(TEST_TEXT, encoding="utf-8") as f:
            chapters = [line for line in f if line.strip()]
        cls.calibration = os.path.join(d, "calibration.txt")
        cls.evaluation = os.path.join(d, "evaluation.txt")
        with open(cls.calibration, "w", encoding="utf-8") as f:
            f.writelines(chapters[:20])
        with open(cls.evaluation, "w", encoding="utf-8") as f:
            f.writelines(chapters[20:])
        cls.dir = d

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def quantized(self, bits, rounding):
        out = os.path.join(self.dir, f"w{bits}-{rounding}.json")
        run_cli("quantize", MODEL, "--device", DEVICE, "--data", "text:" + self.calibration,
                "--tokenizer", TOKENIZER, "--limit", "8", "--weights", str(bits), "--acts",
                "float", "--granularity", "group:32", "--rounding", rounding, "-o", out)
        _, out_json, _ = run_cli("eval", MODEL, "--device", DEVICE, "--json", "--data",
                                 "text:" + self.evaluation, "--tokenizer", TOKENIZER,
                                 "--limit", "24", "--config", out)
        return json.loads(out_json)

    def test_sensitivity_is_the_kl_divergence_of_next_token_distributions(self):
        _, out, _ = run_cli("sensitivity", MODEL, "--device", DEVICE, "--data",
                            "text:" + self.calibration, "--tokenizer", TOKENIZER, "--limit", "1",
                            "--bits", "2,4", "--granularity", "group:32", "--json")
        r = json.loads(out)
        self.assertTrue(r["language_model"])
        self.assertEqual(r["samples"], 1)
        layers = r["layers"]
        self.assertEqual(len(layers), 43)  # 6 blocks x 7 projections and the head
        kl = {b: [l["bits"][str(b)]["kl"] for l in layers] for b in (2, 4)}
        for b in (2, 4):
            self.assertTrue(all(k >= 0 and math.isfinite(k) for k in kl[b]))
        # Fewer bits move the distribution more, layer by layer nearly always, and on average.
        self.assertGreater(sum(kl[2]), 5 * sum(kl[4]))
        self.assertGreaterEqual(sum(a > b for a, b in zip(kl[2], kl[4])), 40)
        rc, _, err = run_cli("sensitivity", MODEL, "--data", "text:" + self.calibration,
                             "--tokenizer", TOKENIZER, "--what", "acts", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("sweep its weights", err)

    @unittest.skipUnless(peer_available(), "onnxruntime-node is not installed in tests/peer")
    def test_4_bits_in_groups_of_128_export_to_onnx_runtime(self):
        # Groups of 128 divide neither the 320 inputs of the projections nor the MLP's 864.
        config = os.path.join(self.dir, "w4g128.json")
        run_cli("quantize", MODEL, "--device", DEVICE, "--data", "text:" + self.calibration,
                "--tokenizer", TOKENIZER, "--limit", "8", "--weights", "4", "--acts", "float",
                "--granularity", "group:128", "--rounding", "gptq", "-o", config)
        _, out, _ = run_cli("eval", MODEL, "--device", DEVICE, "--json", "--data",
                            "text:" + self.evaluation, "--tokenizer", TOKENIZER, "--limit", "24",
                            "--config", config)
        scored = json.loads(out)
        self.assertLess(scored["ppl_ratio"], 1.03)
        self.assertLess(scored["kld"]["mean"], 0.02)
        rc, _, err = run_cli("export", MODEL, "--config", config, "--data",
                             "text:" + self.evaluation, "-o", os.path.join(self.dir, "x"),
                             check=False)
        self.assertEqual(rc, 1)
        self.assertIn("export without --data", err)
        package = os.path.join(self.dir, "package")
        run_cli("export", MODEL, "--config", config, "-o", package)
        import onnx
        model = onnx.load(os.path.join(package, "model.onnx"))
        shapes = {t.name: list(t.dims) for t in model.graph.initializer}
        blocked = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and
                   any(a.name == "block_size" and a.i == 128 for a in n.attribute)]
        self.assertIn([864, 320], [shapes[n.input[0]] for n in blocked])  # down_proj [K, N]
        # ONNX Runtime, given the package alone, reproduces the logits and the cache.
        target = os.path.join(self.dir, "target")
        os.makedirs(target)
        os.symlink(os.path.join(PEER_DIR, "node_modules"), os.path.join(target, "node_modules"))
        copy = os.path.join(target, "pkg")
        subprocess.run(["cp", "-r", package, copy], check=True)
        p = subprocess.run(["node", os.path.join(copy, "selfcheck", "selfcheck.mjs")],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual(report["selfcheck"], "passed")
        logits = [o for o in report["outputs"] if o["output"] == "logits"][0]
        self.assertLess(logits["max_abs_diff"], 1e-3)  # fp32 activations, as simulated

        # The same as ONNX Runtime's MatMulNBits: every projection and the head.
        nbits = os.path.join(self.dir, "nbits")
        run_cli("export", MODEL, "--config", config, "--matmul-nbits", "-o", nbits)
        model = onnx.load(os.path.join(nbits, "model.onnx"))
        ops = [n.op_type for n in model.graph.node]
        self.assertEqual(ops.count("MatMulNBits"), len(blocked))
        with open(os.path.join(nbits, "manifest.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["model"]["matmul_nbits_nodes"], len(blocked))
        self.assertNotIn("DequantizeLinear", ops)
        copy = os.path.join(target, "nbits")
        subprocess.run(["cp", "-r", nbits, copy], check=True)
        p = subprocess.run(["node", os.path.join(copy, "selfcheck", "selfcheck.mjs")],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        logits = [o for o in json.loads(p.stdout)["outputs"] if o["output"] == "logits"][0]
        self.assertLess(logits["max_abs_diff"], 1e-3)
        # MatMulNBits asks nothing of opset 21: an opset-17 file (RMSNormalization spelled out).
        old = os.path.join(self.dir, "nbits17")
        run_cli("export", MODEL, "--config", config, "--matmul-nbits", "--opset", "17", "-o", old)
        model = onnx.load(os.path.join(old, "model.onnx"))
        self.assertEqual([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")],
                         [17])
        copy = os.path.join(target, "nbits17")
        subprocess.run(["cp", "-r", old, copy], check=True)
        p = subprocess.run(["node", os.path.join(copy, "selfcheck", "selfcheck.mjs")],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_gptq_beats_round_to_nearest_and_4_bits_stay_close(self):
        w4 = self.quantized(4, "gptq")
        self.assertLess(w4["ppl_ratio"], 1.03)
        self.assertLess(w4["kld"]["mean"], 0.02)
        self.assertGreater(w4["same_top_percent"], 90.0)
        rtn3, gptq3 = self.quantized(3, "rtn"), self.quantized(3, "gptq")
        self.assertLess(gptq3["kld"]["mean"], rtn3["kld"]["mean"])
        self.assertLess(gptq3["ppl_ratio"], rtn3["ppl_ratio"])
        self.assertGreater(rtn3["ppl_ratio"], w4["ppl_ratio"])

    def test_text_for_a_model_that_is_no_decoder_and_a_missing_tokenizer_are_errors(self):
        code, _, err = run_cli("quantize", os.path.join(MODELS_DIR, "lenet.onnx"), "--data",
                               "text:" + self.calibration, "--tokenizer", TOKENIZER, "-o",
                               os.path.join(self.dir, "x.json"), check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("language model", err)
        code, _, err = run_cli("quantize", MODEL, "--data", "text:" + self.calibration,
                               "--tokenizer", os.path.join(self.dir, "missing.model"), "-o",
                               os.path.join(self.dir, "x.json"), check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("missing.model", err)

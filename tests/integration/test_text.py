"""Tokenizers: quantscope-cli tokenize against python3-sentencepiece on the bundled decoder's
tokenizer.model, over 3,000 strings: words, numbers and punctuation, runs of spaces and tabs,
accents (composed and combining), CJK, Arabic, emoji and other text outside the vocabulary (byte
fallback). Ids, pieces and the decoded text must be the same. Hugging Face tokenizer.json files
as GPT-2 and Llama 3.1 publish them (from npm) against Hugging Face's own JavaScript tokenizers
on 3,000 strings more, with line breaks, contractions, digit runs, Unicode spaces and special
tokens written in the text. A file that is no tokenizer is an error in words."""
import json
import os
import random
import subprocess
import unittest

from cli_util import MODELS_DIR, PEER_DIR, TempDir, run_cli

try:
    import sentencepiece
except ImportError:  # Debian's python3-sentencepiece
    sentencepiece = None

TOKENIZER = os.path.join(MODELS_DIR, "decoder", "tokenizer.model")

WORDS = ("in the beginning God created heaven and earth light darkness said Let there be was "
         "unto them which shall thou thee thy hath LORD Israel children 1 2 12 1611 3.14 , . ; : "
         "! ? ' \" ( ) - — … naïve café Zoë résumé Ærø straße Ελλάδα Москва 東京 北京市 ソウル "
         "한국어 مرحبا שלום नमस्ते 🙂 🚀 👩‍💻 e\u0301 n\u0303 ﬁ ½ ①").split(" ")


def strings(count, seed=7):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 12))]
        text = ""
        for w in words:
            text += rng.choice([" ", " ", " ", "  ", "\t", ""]) + w
        if i % 7 == 0:
            text = text.strip()
        if i % 11 == 0:
            text = "   " + text + "  "
        out.append(text)
    return out + ["", " ", "\t", "a", "THE", "▁", "<s>", "</s>", "<unk>"]


# What byte-level BPE pre-tokenizers split on, beyond the words above: contractions in either
# case, digit runs (Llama 3 takes three at a time), line breaks, Unicode spaces, special tokens.
BPE_WORDS = WORDS + ("it's I'm we'll THEY'RE You've she'd don't 'tis '' 12345 2024-12-07 "
                     "0.000001 1,000,000 x\u00a0y \u3000 \u2009 a\u200ab <|endoftext|> "
                     "<|begin_of_text|> <|eot_id|> <|endoftext <| |> ... ?! ;) :-) #hashtag "
                     "@user http://example.org/a?b=c&d ©2024 ™ ∑∫√ ¿Qué? ¡Olé! İstanbul ǅ "
                     "\u0301 ŉ ﷺ ｱｲｳ ＡＢＣ १२३ ٣٤ ⅷ").split(" ")
BPE_GAPS = [" ", " ", " ", "  ", "\t", "", "\n", "\n\n", "\r\n", " \n ", "   \n\t"]


def bpe_strings(count, seed=11):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        text = ""
        for _ in range(rng.randint(1, 14)):
            text += rng.choice(BPE_GAPS) + rng.choice(BPE_WORDS)
        if i % 5 == 0:
            text += rng.choice(BPE_GAPS)
        out.append(text)
    return out + [" ", "\n", "  \n", "a  b", "a \n b", "<|endoftext|><|endoftext|>", "1234567"]


HF_TOKENIZERS = {name: os.path.join(PEER_DIR, "node_modules", "@lenml", "tokenizer-" + name,
                                    "models")
                 for name in ("gpt2", "llama3_1")}


def hf_peer_available():
    return (os.path.isdir(os.path.join(PEER_DIR, "node_modules", "@huggingface", "tokenizers"))
            and all(os.path.isfile(os.path.join(d, "tokenizer.json"))
                    for d in HF_TOKENIZERS.values()))


@unittest.skipUnless(sentencepiece is not None, "skipped 'python3-sentencepiece is not installed'")
@unittest.skipUnless(os.path.exists(TOKENIZER), "skipped 'no bundled tokenizer.model'")
class SentencePieceTokenizer(unittest.TestCase):
    def test_ids_pieces_and_text_match_sentencepiece(self):
        sp = sentencepiece.SentencePieceProcessor(model_file=TOKENIZER)
        texts = strings(3000)
        with TempDir() as d:
            path = os.path.join(d, "texts.txt")
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write("\n".join(texts) + "\n")
            _, out, _ = run_cli("tokenize", "--tokenizer", TOKENIZER, "--file", path, "--json")
        result = json.loads(out)
        self.assertEqual(result["vocab_size"], sp.get_piece_size())
        self.assertEqual((result["bos"], result["eos"]), (sp.bos_id(), sp.eos_id()))
        self.assertEqual(len(result["texts"]), len(texts))
        fallback = 0
        for text, row in zip(texts, result["texts"]):
            want = sp.encode(text)
            self.assertEqual(row["text"], text)
            self.assertEqual(row["ids"], want, repr(text))
            self.assertEqual(row["pieces"], [sp.id_to_piece(i) for i in want], repr(text))
            self.assertEqual(row["decoded"], sp.decode(want), repr(text))
            fallback += any(p.startswith("<0x") for p in row["pieces"])
        self.assertGreater(fallback, 100)  # the byte fallback was exercised

    def test_a_file_that_is_no_tokenizer_is_an_error_in_words(self):
        rc, _, err = run_cli("tokenize", "--tokenizer", os.path.join(MODELS_DIR, "lenet.onnx"),
                             "--text", "x", check=False)
        self.assertEqual(rc, 1)
        self.assertIn("not a SentencePiece tokenizer model", err)
        rc, _, err = run_cli("tokenize", "--tokenizer", "/nonexistent.model", "--text", "x",
                             check=False)
        self.assertEqual(rc, 1)
        self.assertIn("no such tokenizer file", err)


@unittest.skipUnless(hf_peer_available(), "skipped '@huggingface/tokenizers or the npm tokenizer "
                     "files are not installed (tests/peer)'")
class HuggingFaceTokenizer(unittest.TestCase):
    def compare(self, name):
        folder = HF_TOKENIZERS[name]
        texts = bpe_strings(3000)
        with TempDir() as d:
            path = os.path.join(d, "texts.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for t in texts:
                    f.write(json.dumps(t) + "\n")
            _, out, _ = run_cli("tokenize", "--tokenizer", os.path.join(folder, "tokenizer.json"),
                                "--file", path, "--json")
            p = subprocess.run(["node", os.path.join(PEER_DIR, "hf_tokenize.mjs"), folder, path],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
        ours, theirs = json.loads(out), json.loads(p.stdout)["texts"]
        self.assertEqual(len(ours["texts"]), len(texts))
        self.assertEqual(len(theirs), len(texts))
        with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
            spec = json.load(f)
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        ids_of = dict(spec["model"]["vocab"])
        ids_of.update({a["content"]: a["id"] for a in spec["added_tokens"]})
        self.assertEqual(ours["vocab_size"], max(ids_of.values()) + 1)
        self.assertEqual(ours["eos"], ids_of[config["eos_token"]])
        merged = 0
        for text, row, peer in zip(texts, ours["texts"], theirs):
            self.assertEqual(row["text"], text)
            self.assertEqual(row["ids"], peer["ids"], repr(text))
            self.assertEqual(row["decoded"], peer["decoded"], repr(text))
            # The post-processor's beginning token, where it adds one, is ours too.
            self.assertEqual(([ours["bos"]] if ours["bos"] >= 0 else []) + row["ids"],
                             peer["with_special"], repr(text))
            merged += len(row["ids"]) < len(text.encode("utf-8"))
        self.assertGreater(merged, 2900)
        return ours

    def test_gpt2_matches_hugging_face(self):
        ours = self.compare("gpt2")
        self.assertEqual(ours["bos"], -1)  # GPT-2's post-processor adds nothing
        self.assertIn("GPT-2 words", ours["tokenizer"])

    def test_llama3_matches_hugging_face(self):
        ours = self.compare("llama3_1")
        self.assertGreaterEqual(ours["bos"], 0)
        self.assertIn("Llama 3 words", ours["tokenizer"])

    def test_what_is_not_supported_is_refused_by_name(self):
        with open(os.path.join(HF_TOKENIZERS["gpt2"], "tokenizer.json"), encoding="utf-8") as f:
            spec = json.load(f)
        split = {"type": "Split", "pattern": {"Regex": r"\w+"}, "behavior": "Isolated",
                 "invert": False}
        cases = [("normalizer", {"type": "NFC"}, "the normalizer 'NFC' is not supported"),
                 ("model", dict(spec["model"], type="WordPiece"),
                  "model type 'WordPiece' is not supported"),
                 ("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
                     split, {"type": "ByteLevel", "use_regex": False}]}, r"pattern '\w+'")]
        with TempDir() as d:
            path = os.path.join(d, "tokenizer.json")
            for key, value, message in cases:
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(dict(spec, **{key: value}), f)
                rc, _, err = run_cli("tokenize", "--tokenizer", path, "--text", "x", check=False)
                self.assertEqual(rc, 1, key)
                self.assertIn(message, err)
            with open(path, "w", encoding="utf-8") as f:
                f.write('{"model": ')
            rc, _, err = run_cli("tokenize", "--tokenizer", path, "--text", "x", check=False)
            self.assertEqual(rc, 1)
            self.assertIn("not a tokenizer", err)


if __name__ == "__main__":
    unittest.main()

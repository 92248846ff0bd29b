"""Tokenizers: quantscope-cli tokenize against python3-sentencepiece on the bundled decoder's
tokenizer.model, over 3,000 strings: words, numbers and punctuation, runs of spaces and tabs,
accents (composed and combining), CJK, Arabic, emoji and other text outside the vocabulary (byte
fallback). Ids, pieces and the decoded text must be the same. A file that is no tokenizer is an
error in words."""
import json
import os
import random
import unittest

from cli_util import MODELS_DIR, TempDir, run_cli

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


if __name__ == "__main__":
    unittest.main()

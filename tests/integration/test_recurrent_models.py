"""Recurrent layers as torch.onnx exports them (LSTM, GRU, RNN; several layers, bidirectional,
batch-first, a dynamic sequence length): Quantscope's output against PyTorch's own, computed
here, and against ONNX Runtime where the peer is installed."""
import os
import unittest
import warnings

import numpy as np

from cli_util import TempDir, peer_available, run_cli, run_ort

try:
    import torch
except ImportError:  # the test needs torch only to write the models
    torch = None


class Stack(torch.nn.Module if torch else object):
    def __init__(self, kind):
        super().__init__()
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
        self.rnn = layer(input_size=6, hidden_size=5, num_layers=2, batch_first=True,
                         bidirectional=True)
        self.head = torch.nn.Linear(10, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


@unittest.skipUnless(torch is not None, "skipped 'python3-torch is not installed'")
class RecurrentExports(unittest.TestCase):
    def test_lstm_gru_rnn_match_pytorch_at_two_lengths(self):
        torch.manual_seed(0)
        for kind in ("lstm", "gru", "rnn"):
            with self.subTest(kind=kind), TempDir() as d:
                model = Stack(kind).eval()
                path = os.path.join(d, f"{kind}.onnx")
                with warnings.catch_warnings():  # torch's notes on exporting RNNs
                    warnings.simplefilter("ignore")
                    torch.onnx.export(model, torch.zeros(2, 7, 6), path, opset_version=14,
                                      input_names=["x"], output_names=["y"],
                                      dynamic_axes={"x": {0: "batch", 1: "seq"}})
                for batch, seq in ((2, 7), (3, 11)):  # the second length differs from the export's
                    x = np.random.default_rng(seq).standard_normal((batch, seq, 6)).astype(np.float32)
                    np.save(os.path.join(d, "x.npy"), x)
                    with torch.no_grad():
                        want = model(torch.from_numpy(x)).numpy()
                    for device in ("cpu-ref", "cpu-onednn"):
                        out = os.path.join(d, f"y-{device}.npy")
                        run_cli("run", path, "--input", os.path.join(d, "x.npy"), "--output", out,
                                "--device", device)
                        np.testing.assert_allclose(np.load(out), want, rtol=1e-4, atol=1e-5,
                                                   err_msg=f"{kind} {device} seq {seq}")
                    if peer_available():
                        ort = run_ort(path, {"x": os.path.join(d, "x.npy")}, os.path.join(d, "ort"))
                        np.testing.assert_allclose(np.load(os.path.join(ort, "y.npy")), want,
                                                   rtol=1e-4, atol=1e-5)


if __name__ == "__main__":
    unittest.main()

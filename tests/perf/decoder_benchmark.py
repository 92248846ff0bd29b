#!/usr/bin/env python3
"""The bundled decoder (resources/models/decoder) against its targets, in one run:

  perplexity  Quantscope's on the whole test split (eval --data text:test.txt, windows of 256)
              against PyTorch's recorded in decoder.json (equal to 4 significant digits)
  speed       prefill of P tokens and greedy decode of N tokens after it, Quantscope
              (bench --prompt-tokens P --decode N) against ONNX Runtime running the same ONNX
              with its own cache loop (tests/peer/ort_decoder.mjs), same thread counts
  memory      peak RSS of `generate -n N` and of ONNX Runtime's generation of as many tokens

A benchmark, not a test: prints a table and writes JSON (default build/decoder-benchmark.json).
ratio = Quantscope tokens/s / ONNX Runtime tokens/s (above 1.0: Quantscope is faster).

usage: tests/perf/decoder_benchmark.py [--device cpu-onednn] [--threads 1,2] [--prompt 128]
                                       [--decode 128] [--runs 3] [--model M --tokenizer T]
                                       [--skip-perplexity] [--out FILE.json]
--model/--tokenizer: another decoder in the Optimum layout (the perplexity check then needs
--reference-ppl).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DECODER = os.path.join(ROOT, "resources", "models", "decoder")


def run_measured(cmd):
    """Runs cmd; returns its stdout (exits with its stderr when it fails)."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def peak_rss_mib(cmd):
    """Peak RSS of one run of cmd, in MiB (wait4's rusage of that child)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return usage.ru_maxrss / 1024.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    p.add_argument("--device", default="cpu-onednn")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--decode", type=int, default=128)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--model", default=os.path.join(DECODER, "decoder.onnx"))
    p.add_argument("--tokenizer", default=os.path.join(DECODER, "tokenizer.model"))
    p.add_argument("--text", default=os.path.join(DECODER, "test.txt"))
    p.add_argument("--reference-ppl", type=float, default=None)
    p.add_argument("--skip-perplexity", action="store_true")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "decoder-benchmark.json"))
    args = p.parse_args()
    peer = ["node", os.path.join(ROOT, "tests", "peer", "ort_decoder.mjs")]
    result = {"model": args.model, "device": args.device}

    if not args.skip_perplexity:
        reference = args.reference_ppl
        if reference is None:
            with open(os.path.join(DECODER, "decoder.json")) as f:
                reference = json.load(f)["perplexity"]["test"]
        ours = json.loads(run_measured([args.cli, "eval", args.model, "--device", args.device,
                                        "--data", "text:" + args.text, "--tokenizer",
                                        args.tokenizer, "--context", "256", "--json"]))
        digits = lambda x: float(f"{x:.4g}")
        result["perplexity"] = {"quantscope": ours["perplexity"], "pytorch": reference,
                                "tokens": ours["tokens"], "bits_per_byte": ours["bits_per_byte"],
                                "seconds": ours["seconds"],
                                "equal_to_4_digits": digits(ours["perplexity"]) == digits(reference)}
        print(f"perplexity  quantscope {ours['perplexity']:.4f}  pytorch {reference:.4f}  "
              f"({ours['tokens']} tokens, {ours['bits_per_byte']:.4f} bits/byte, "
              f"{ours['seconds']:.1f} s)  4 digits equal: {result['perplexity']['equal_to_4_digits']}")

    rows = []
    print(f"\n{'threads':>7} {'what':<22} {'quantscope':>12} {'onnxruntime':>12} {'ratio':>7}")
    for threads in [int(t) for t in args.threads.split(",")]:
        ours = json.loads(run_measured([args.cli, "bench", args.model, "--device", args.device,
                                        "--threads", str(threads), "--prompt-tokens",
                                        str(args.prompt), "--decode", str(args.decode),
                                        "--runs", str(args.runs), "--json"]))
        theirs = json.loads(run_measured(peer + ["bench", args.model, str(args.prompt),
                                                 str(args.decode), str(threads), str(args.runs)]))
        row = {"threads": threads, "isa": ours["isa"],
               "prefill_tokens_per_s": ours["prefill_tokens_per_s"],
               "ort_prefill_tokens_per_s": theirs["prefill_tokens_per_s"],
               "decode_tokens_per_s": ours["decode_tokens_per_s"],
               "ort_decode_tokens_per_s": theirs["decode_tokens_per_s"],
               "decode_p90_ms": ours["decode"]["p90_ms"], "ort_decode_p90_ms": theirs["decode_p90_ms"]}
        rows.append(row)
        for what, a, b in ((f"prefill {args.prompt} tok/s", row["prefill_tokens_per_s"], row["ort_prefill_tokens_per_s"]),
                           (f"decode {args.decode} tok/s", row["decode_tokens_per_s"], row["ort_decode_tokens_per_s"])):
            print(f"{threads:>7} {what:<22} {a:>12.1f} {b:>12.1f} {a / b:>7.2f}")
    result["speed"] = rows
    result["isa"] = rows[0]["isa"] if rows else None

    with tempfile.TemporaryDirectory() as d:
        prompt = os.path.join(d, "prompt.json")
        with open(prompt, "w") as f:
            json.dump([1] + [100 + i for i in range(args.prompt - 1)], f)
        ours_rss = peak_rss_mib([args.cli, "generate", args.model, "--device", args.device,
                                 "--tokenizer", args.tokenizer, "--prompt", "And God said",
                                 "-n", str(args.decode), "--json"])
        ort_rss = peak_rss_mib(peer + ["generate", args.model, prompt, str(args.decode), "cache"])
    result["memory"] = {"quantscope_peak_rss_mib": ours_rss, "ort_peak_rss_mib": ort_rss,
                        "ratio": ours_rss / ort_rss}
    print(f"\npeak RSS    quantscope {ours_rss:.0f} MiB  onnxruntime {ort_rss:.0f} MiB  "
          f"ratio {ours_rss / ort_rss:.2f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

// A decoder in the Optimum layout run by ONNX Runtime (CPU) with its own cache loop: the peer
// for quantscope-cli eval (text), generate and bench --decode.
// usage:
//   node ort_decoder.mjs perplexity MODEL IDS.json CONTEXT STRIDE LIMIT
//       windows as Quantscope cuts them (each token scored once, in the first window that
//       holds it with something before it); prints {nll, tokens, windows}
//   node ort_decoder.mjs generate MODEL PROMPT.json N cache|nocache
//       greedy; with the cache (present fed back as past) or recomputing the whole text at
//       each step; prints {tokens}
//   node ort_decoder.mjs bench MODEL PROMPT_TOKENS DECODE THREADS RUNS
//       prefill and greedy decode timed as quantscope-cli bench --decode does (one generation
//       discarded); prints {prefill_median_ms, decode_median_ms, ...}
// IDS.json / PROMPT.json: a JSON array of token ids.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), 'package.json'));
const ort = require('onnxruntime-node');

const [mode, model, ...rest] = process.argv.slice(2);
const threads = mode === 'bench' ? Number(rest[2]) : 0;
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  graphOptimizationLevel: 'all', logSeverityLevel: 3,
});
const pastNames = session.inputNames.filter(n => n.startsWith('past_key_values.'));
const pastShape = {};
for (const name of pastNames) {
  const meta = session.inputMetadata?.find?.(m => m.name === name);
  pastShape[name] = meta?.shape;
}

function emptyPast(name) {
  const s = pastShape[name];
  if (!s || typeof s[1] !== 'number' || typeof s[3] !== 'number')
    throw new Error(`cannot read the shape of ${name}`);
  return new ort.Tensor('float32', new Float32Array(0), [1, s[1], 0, s[3]]);
}

// Feeds `ids` after a past of length `pastLength`; returns {logits, present}.
async function step(ids, past, pastLength) {
  const n = ids.length;
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
  };
  if (session.inputNames.includes('attention_mask'))
    feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(pastLength + n).fill(1n), [1, pastLength + n]);
  if (session.inputNames.includes('position_ids'))
    feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pastLength + i)), [1, n]);
  for (const name of pastNames) feeds[name] = past ? past[name] : emptyPast(name);
  const out = await session.run(feeds);
  const present = {};
  for (const name of pastNames) present[name] = out[name.replace('past_key_values.', 'present.')];
  return { logits: out.logits, present };
}

function argmaxRow(logits, row) {
  const vocab = logits.dims[2];
  const data = logits.data;
  let best = 0;
  for (let v = 1; v < vocab; ++v) if (data[row * vocab + v] > data[row * vocab + best]) best = v;
  return best;
}

function logProb(logits, row, target) {
  const vocab = logits.dims[2];
  const data = logits.data;
  let top = -Infinity;
  for (let v = 0; v < vocab; ++v) top = Math.max(top, data[row * vocab + v]);
  let sum = 0;
  for (let v = 0; v < vocab; ++v) sum += Math.exp(data[row * vocab + v] - top);
  return data[row * vocab + target] - (top + Math.log(sum));
}

async function perplexity(ids, context, stride, limit) {
  let nll = 0, tokens = 0, windows = 0, seen = 0;
  for (let begin = 0; begin + 1 < ids.length; begin += stride) {
    if (limit >= 0 && windows >= limit) break;
    const end = Math.min(begin + context, ids.length);
    const scored = Math.max(begin + 1, seen);
    if (scored < end) {
      const { logits } = await step(ids.slice(begin, end), null, 0);
      for (let t = scored; t < end; ++t) nll -= logProb(logits, t - 1 - begin, ids[t]);
      tokens += end - scored;
      ++windows;
    }
    seen = end;
    if (end === ids.length) break;
  }
  return { nll, tokens, windows };
}

async function generate(prompt, n, cached) {
  const tokens = [];
  const prefillStart = process.hrtime.bigint();
  let { logits, present } = await step(prompt, null, 0);
  const prefillMs = Number(process.hrtime.bigint() - prefillStart) / 1e6;
  let length = prompt.length;
  const stepMs = [];
  for (let i = 0; i < n; ++i) {
    const token = argmaxRow(logits, logits.dims[1] - 1);
    tokens.push(token);
    if (i + 1 === n) break;
    const start = process.hrtime.bigint();
    if (cached) {
      ({ logits, present } = await step([token], present, length));
    } else {
      ({ logits } = await step([...prompt, ...tokens], null, 0));
    }
    stepMs.push(Number(process.hrtime.bigint() - start) / 1e6);
    ++length;
  }
  return { tokens, prefillMs, stepMs };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
}

function percentile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : 0;
}

if (mode === 'perplexity') {
  const [idsPath, context, stride, limit] = rest;
  const ids = JSON.parse(readFileSync(idsPath, 'utf8'));
  console.log(JSON.stringify(await perplexity(ids, Number(context), Number(stride), Number(limit))));
} else if (mode === 'generate') {
  const [promptPath, n, cache] = rest;
  const prompt = JSON.parse(readFileSync(promptPath, 'utf8'));
  const { tokens } = await generate(prompt, Number(n), cache !== 'nocache');
  console.log(JSON.stringify({ tokens }));
} else if (mode === 'bench') {
  const [promptTokens, decode, , runs] = rest.map(Number);
  const vocab = 100;  // ids every vocabulary has: what they are does not change the time
  let seed = 1;
  const prompt = Array.from({ length: promptTokens }, () => (seed = (seed * 48271) % 2147483647) % vocab);
  const prefill = [], steps = [];
  for (let run = 0; run <= runs; ++run) {
    const g = await generate(prompt, decode + 1, true);
    if (run === 0) continue;
    prefill.push(g.prefillMs);
    steps.push(...g.stepMs);
  }
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node', threads, prompt_tokens: promptTokens, decode_tokens: decode,
    prefill_median_ms: median(prefill), decode_median_ms: median(steps),
    decode_p90_ms: percentile(steps, 0.9), decode_p99_ms: percentile(steps, 0.99),
    prefill_tokens_per_s: 1000 * promptTokens / median(prefill),
    decode_tokens_per_s: 1000 / median(steps),
  }));
} else {
  console.error('usage: node ort_decoder.mjs perplexity|generate|bench MODEL ...');
  process.exit(2);
}

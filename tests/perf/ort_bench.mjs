// Times a model in ONNX Runtime (CPU) the way `quantscope-cli bench` does: random inputs,
// warm-up runs discarded, then at least `runs` runs and at least `minSeconds` seconds.
// usage: node ort_bench.mjs MODEL.onnx BATCH THREADS [RUNS] [MIN_SECONDS]
// Prints JSON: {median_ms, p90_ms, min_ms, cv, runs, threads, batch}.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// onnxruntime-node is installed for the peer tests in tests/peer.
const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', 'peer', 'package.json'));
const ort = require('onnxruntime-node');

const [model, batchArg, threadsArg, runsArg = '50', minSecondsArg = '1'] = process.argv.slice(2);
const batch = Number(batchArg), threads = Number(threadsArg), runs = Number(runsArg);
const minSeconds = Number(minSecondsArg);
const session = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const feeds = {};
for (const name of session.inputNames) {
  const meta = session.inputMetadata ? session.inputMetadata.find?.(m => m.name === name) : undefined;
  const dims = (meta?.shape ?? [batch, 1, 28, 28]).map((d, i) => (typeof d === 'number' && d > 0 ? d : (i === 0 ? batch : 1)));
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; ++i) data[i] = Math.sin(i * 12.9898) * 0.5;
  feeds[name] = new ort.Tensor('float32', data, dims);
}
for (let i = 0; i < 10; ++i) await session.run(feeds);
const samples = [];
const began = process.hrtime.bigint();
while (samples.length < runs || Number(process.hrtime.bigint() - began) / 1e9 < minSeconds) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
samples.sort((a, b) => a - b);
const n = samples.length;
const mean = samples.reduce((a, b) => a + b, 0) / n;
const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(n - 1, 1));
const median = n % 2 ? samples[(n - 1) / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
console.log(JSON.stringify({
  runtime: 'onnxruntime-node', median_ms: median, p90_ms: samples[Math.min(n - 1, Math.ceil(0.9 * n) - 1)],
  min_ms: samples[0], cv: sd / mean, runs: n, threads, batch,
}));

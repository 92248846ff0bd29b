// Self-check of a Quantscope deployment package with ONNX Runtime for Node.js.
//   node selfcheck/selfcheck.mjs        (needs: npm install onnxruntime-node)
// 1. Every file matches checksums.sha256.  2. model.onnx, run by ONNX Runtime on the reference
// inputs, reproduces Quantscope's outputs within the tolerance in selfcheck.json.
// Exit status: 0 passed, 1 failed, 2 ONNX Runtime is not installed here.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];

const sums = readFileSync(join(root, 'checksums.sha256'), 'utf8').split('\n').filter((l) => l.trim());
for (const line of sums) {
  const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
  if (!m) { problems.push(`checksums.sha256: malformed line: ${line}`); continue; }
  const path = join(root, m[2]);
  if (!existsSync(path)) { problems.push(`${m[2]}: missing`); continue; }
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (digest !== m[1]) problems.push(`${m[2]}: modified (its SHA-256 differs from checksums.sha256)`);
}
if (sums.length === 0) problems.push('checksums.sha256 lists no files');
if (problems.length) finish();

let ort;
try {
  ort = await import('onnxruntime-node');
} catch {
  console.error('selfcheck: the files are intact, but onnxruntime-node is not installed here (npm install onnxruntime-node)');
  process.exit(2);
}

function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (descr !== '<f4' && descr !== '<i8') throw new Error(`${path}: expected float32 or int64, found ${descr}`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const bytes = new Uint8Array(buf.subarray(start + headerLen)).buffer;
  if (descr === '<i8') return { type: 'int64', data: new BigInt64Array(bytes), shape };
  return { type: 'float32', data: new Float32Array(bytes), shape };
}

const spec = JSON.parse(readFileSync(join(root, 'selfcheck', 'selfcheck.json'), 'utf8'));
// ONNX Runtime fuses a blocked 4-bit DequantizeLinear into MatMul as its MatMulNBits, by default
// computing with 8-bit activations; level 1 keeps them fp32, as the quantized model has them.
const session = await ort.InferenceSession.create(join(root, spec.model), {
  extra: { session: { qdq_matmulnbits_accuracy_level: '1' } },
});
const feeds = {};
for (const input of spec.inputs) {
  const { type, data, shape } = readNpy(join(root, input.file));
  feeds[input.name] = new ort.Tensor(type, data, shape);
}
const results = await session.run(feeds);
const report = [];
for (const output of spec.outputs) {
  const want = readNpy(join(root, output.file));
  const got = results[output.name];
  if (!got) { problems.push(`output '${output.name}': ONNX Runtime did not produce it`); continue; }
  if (got.data.length !== want.data.length) {
    problems.push(`output '${output.name}': ${got.data.length} values, expected ${want.data.length}`);
    continue;
  }
  let worst = 0;
  for (let i = 0; i < want.data.length; ++i) {
    const d = Math.abs(got.data[i] - want.data[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  report.push({ output: output.name, max_abs_diff: worst, atol: output.atol });
  if (!(worst <= output.atol)) problems.push(`output '${output.name}': differs by ${worst}, more than ${output.atol}`);
}
finish(report);

function finish(outputs = []) {
  const passed = problems.length === 0;
  console.log(JSON.stringify({ selfcheck: passed ? 'passed' : 'failed', runtime: 'onnxruntime-node', outputs, problems }, null, 2));
  process.exit(passed ? 0 : 1);
}

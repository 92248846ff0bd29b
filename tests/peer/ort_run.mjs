// Runs an ONNX model in ONNX Runtime (CPU) on .npy inputs and writes each output as .npy.
// usage: node ort_run.mjs [--optimize=SAVED.onnx] MODEL.onnx OUT_DIR NAME=INPUT.npy [...]
// Without --optimize ONNX Runtime runs the graph as written; with it, at its full optimization
// level (QDQ fusion into integer kernels), saving the optimized graph to SAVED.onnx.
// Peer check for Quantscope: the integration tests compare these outputs with quantscope-cli run.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

const dtypes = { '<f4': 'float32', '<i8': 'int64', '<i4': 'int32', '|u1': 'uint8', '|i1': 'int8' };

function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const type = dtypes[descr];
  if (!type) throw new Error(`${path}: dtype ${descr} not handled`);
  const data = buf.subarray(start + headerLen);
  const copy = new Uint8Array(data).buffer;  // aligned copy
  const arrays = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array };
  return new ort.Tensor(type, new arrays[type](copy), shape);
}

function writeNpy(path, tensor) {
  if (tensor.type !== 'float32') throw new Error(`output ${path}: only float32 is written`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

const args = process.argv.slice(2);
const optimize = args[0] && args[0].startsWith('--optimize=') ? args.shift().slice('--optimize='.length) : null;
const [model, outDir, ...inputs] = args;
if (!model || !outDir) {
  console.error('usage: node ort_run.mjs MODEL.onnx OUT_DIR NAME=INPUT.npy ...');
  process.exit(2);
}
const session = await ort.InferenceSession.create(model, optimize
  ? { graphOptimizationLevel: 'all', optimizedModelFilePath: optimize, logSeverityLevel: 3 }
  : { graphOptimizationLevel: 'disabled' });
const feeds = {};
for (const spec of inputs) {
  const eq = spec.indexOf('=');
  feeds[spec.slice(0, eq)] = readNpy(spec.slice(eq + 1));
}
const results = await session.run(feeds);
mkdirSync(outDir, { recursive: true });
for (const name of session.outputNames) writeNpy(join(outDir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`), results[name]);
console.log(JSON.stringify({ runtime: 'onnxruntime-node', outputs: session.outputNames }));

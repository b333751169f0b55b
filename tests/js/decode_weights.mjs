// Decodes a converted model's weights with TF.js's own reader (tf.io.decodeWeights: the code loadLayersModel and
// loadGraphModel use), so tests see exactly what TF.js restores: dequantized values, strings, bools, int32.
// Usage: node decode_weights.mjs <model dir>  ->  one JSON object on stdout:
//   {"<weight name>": {"dtype", "shape", "data" (base64 of float32/int32/uint8 values) | "strings" (base64 of each)}}
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

await tf.setBackend('cpu');
const dir = process.argv[2];
const modelJSON = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
const specs = [];
const buffers = [];
for (const group of modelJSON.weightsManifest) {
  for (const p of group.paths) buffers.push(await readFile(path.join(dir, p)));
  specs.push(...group.weights);
}
const total = Buffer.concat(buffers);
const data = total.buffer.slice(total.byteOffset, total.byteOffset + total.byteLength);
const tensors = tf.io.decodeWeights(data, specs);
const out = {};
for (const spec of specs) {
  const t = tensors[spec.name];
  const entry = { dtype: t.dtype, shape: t.shape };
  if (t.dtype === 'string') {
    entry.strings = t.dataSync().map((s) => Buffer.from(s).toString('base64'));
  } else {
    const values = t.dataSync();
    entry.data = Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
  }
  out[spec.name] = entry;
}
process.stdout.write(JSON.stringify(out));

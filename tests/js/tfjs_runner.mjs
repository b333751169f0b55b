// Loads TF.js models from disk the way a browser would (model.json, then its shards by manifest) and runs them.
// Protocol: one JSON request per line on stdin, one JSON answer per line on stdout.
//   {"id", "dir", "format": "layers"|"graph", "inputs": [{"shape", "dtype", "data"(base64) | "values"(strings)}],
//    "outputs"?: [names], "input_names"?: [names], "predict"?: bool, "backend"?: "cpu" (default) | "wasm"}
//   -> {"id", "ok": true, "outputs": [{"shape", "dtype", "data"(base64)}], "metadata", "info"} | {"id", "ok": false, "error"}
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

// The WASM backend's .wasm files ship in its npm package (dist/); nothing is downloaded.
const wasmPackage = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
setWasmPaths(path.join(path.dirname(wasmPackage), 'dist') + path.sep);

async function useBackend(name) {
  if (tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} is not available here`);
  await tf.ready();
}

await useBackend('cpu');

function handlerFor(dir) {
  return {
    async load() {
      const modelJSON = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const b = await readFile(path.join(dir, p));
            buffers.push(b);
          }
          specs.push(...group.weights);
        }
        const total = Buffer.concat(buffers);
        const data = total.buffer.slice(total.byteOffset, total.byteOffset + total.byteLength);
        return [specs, data];
      });
    },
  };
}

function toTensor(input) {
  if (input.dtype === 'string') return tf.tensor(input.values, input.shape, 'string');
  const bytes = Buffer.from(input.data, 'base64');
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dtype = input.dtype || 'float32';
  const values = dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
  return tf.tensor(values, input.shape, dtype);
}

async function fromTensor(t) {
  const values = t.dtype === 'int32' ? new Int32Array(await t.data()) : new Float32Array(await t.data());
  return { shape: t.shape, dtype: t.dtype === 'int32' ? 'int32' : 'float32', data: Buffer.from(values.buffer).toString('base64') };
}

async function handle(req) {
  await useBackend(req.backend || 'cpu');
  const inputs = (req.inputs || []).map(toTensor);
  try {
    if (req.format === 'graph') {
      const model = await tf.loadGraphModel(handlerFor(req.dir));
      let feed = inputs.length === 1 ? inputs[0] : inputs;
      if (req.input_names) {
        feed = {};
        req.input_names.forEach((n, i) => { feed[n] = inputs[i]; });
      }
      // "predict": GraphModel.predictAsync, which names outputs by userDefinedMetadata.structuredOutputKeys.
      let out = req.predict ? await model.predictAsync(feed) : await model.executeAsync(feed, req.outputs);
      let names = null;
      if (!Array.isArray(out) && !(out instanceof tf.Tensor)) { names = Object.keys(out).sort(); out = names.map((k) => out[k]); }
      const outs = Array.isArray(out) ? out : [out];
      const result = { outputs: await Promise.all(outs.map(fromTensor)), names, metadata: model.metadata ?? null,
        backend: tf.getBackend(), info: { inputs: model.inputs.map((i) => i.name), outputs: model.outputs.map((o) => o.name) } };
      tf.dispose(outs); model.dispose();
      return result;
    }
    const model = await tf.loadLayersModel(handlerFor(req.dir));
    const out = model.predict(inputs.length === 1 ? inputs[0] : inputs);
    const outs = Array.isArray(out) ? out : [out];
    const result = { outputs: await Promise.all(outs.map(fromTensor)), metadata: model.getUserDefinedMetadata() ?? null,
      backend: tf.getBackend(), info: { layers: model.layers.length, weights: model.weights.length } };
    tf.dispose(outs); model.dispose();
    return result;
  } finally {
    tf.dispose(inputs);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  try { req = JSON.parse(line); } catch (e) { process.stdout.write(JSON.stringify({ ok: false, error: `bad request: ${e}` }) + '\n'); continue; }
  try {
    const result = await handle(req);
    process.stdout.write(JSON.stringify({ id: req.id, ok: true, ...result }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: String(e && e.message ? e.message : e) }) + '\n');
  }
}

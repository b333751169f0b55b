// Node entry of graph_runtime.mjs: pure @tensorflow/tfjs 4.22 (no tfjs-node), from tests/js/node_modules, on its CPU
// backend or (request "backend": "wasm") @tensorflow/tfjs-backend-wasm with the package's own .wasm files.
//   node benchmarks/graph_runtime_node.mjs < request.json > result.json
// request: { "models": [...], "warmup": n, "runs": n, "backend"?: "cpu" | "wasm", "profile"?: true } as
// benchmarkModels (profileKernels with "profile") takes them, model directories on disk.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { benchmarkModels, profileKernels } from './graph_runtime.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const requireFromTests = createRequire(path.join(here, '..', 'tests', 'js', 'package.json'));
const tf = requireFromTests('@tensorflow/tfjs');
const wasm = requireFromTests('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths(path.join(path.dirname(requireFromTests.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);

// model.json, then every shard its manifest lists, concatenated: what tf.io.browserFiles / http do.
function fromDisk(directory) {
  return {
    async load() {
      const modelJSON = JSON.parse(await readFile(path.join(directory, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const buffers = [];
        for (const group of manifest) for (const shard of group.paths) buffers.push(await readFile(path.join(directory, shard)));
        const all = Buffer.concat(buffers);
        return [manifest.flatMap((group) => group.weights), all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      });
    },
  };
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
if (!(await tf.setBackend(request.backend || 'cpu'))) throw new Error(`no TF.js backend ${request.backend}`);
await tf.ready();
const run = request.profile ? profileKernels : benchmarkModels;
const result = await run(tf, request.models, { warmup: request.warmup, runs: request.runs, url: fromDisk });
process.stdout.write(JSON.stringify(result) + '\n');

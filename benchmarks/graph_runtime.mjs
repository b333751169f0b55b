// Times TF.js graph models of the same Keras model side by side: shared by Node (graph_runtime_node.mjs, CPU backend)
// and the browser page of benchmarks/graph_route.py (WebGL backend), so both measure exactly the same way.
//
// benchmarkModels(tf, models, { warmup, runs, url }) with models = [{ name, inputs: [{ shape, dtype, values }],
// routes: { <route>: <graph model directory> | { dir, format: "layers" | "graph" } } }] and url(directory) -> what
// tf.loadGraphModel / tf.loadLayersModel take (a URL, an IO handler). Layers models are timed through predict().
// For each model: every route's graph is loaded, run once (its outputs are returned, to check the routes agree), run
// `warmup` more times, then `runs` rounds in which every route runs once, in an order rotated round by round, so
// machine noise and any drift hit all routes alike. One timed call = the model call (execute, or executeAsync where
// the graph has control flow) until its output values are on the host (data()), which is what an application waits
// for; on WebGL that includes the GPU work and the read-back.

async function timedCall(tf, graph, feed, call) {
  const started = performance.now();
  const result = call === 'predict' ? graph.predict(feed) : call === 'execute' ? graph.execute(feed) : await graph.executeAsync(feed);
  const outputs = Array.isArray(result) ? result : [result];
  const values = await Promise.all(outputs.map((t) => t.data()));
  const milliseconds = performance.now() - started;
  const shapes = outputs.map((t) => t.shape);
  tf.dispose(outputs);
  return { milliseconds, values, shapes };
}

// execute() when the graph allows it; a graph with control flow (e.g. a While loop) refuses and needs executeAsync().
async function chooseCall(tf, graph, feed) {
  try {
    tf.dispose(graph.execute(feed));
    return 'execute';
  } catch (error) {
    if (String(error && error.message).includes('executeAsync')) return 'executeAsync';
    throw error;
  }
}

function feedFor(tf, graph, inputs, layers) {
  const tensors = inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype));
  // One input: the tensor itself; several: by the graph's input names (a layers model: the list), in the order the
  // caller gave the arrays.
  if (tensors.length === 1) return { tensors, feed: tensors[0] };
  if (layers) return { tensors, feed: tensors };
  // A graph's inputs may be listed in another order than the caller's (the official converter sorts them): each
  // array goes to the one input whose shape (batch aside) it fits, else by position.
  const fits = (spec, t) => spec.shape && spec.shape.length === t.shape.length &&
    spec.shape.every((d, i) => i === 0 || d === -1 || d === t.shape[i]);
  const matched = tensors.map((t) => graph.inputs.filter((s) => fits(s, t)));
  const unique = matched.every((m) => m.length === 1) && new Set(matched.map((m) => m[0].name)).size === tensors.length;
  const feed = Object.fromEntries(tensors.map((t, k) => [unique ? matched[k][0].name : graph.inputs[k].name, t]));
  return { tensors, feed };
}

// A route whose graph TF.js cannot load or run is reported with its error and left out of the timing.
async function loadAndRunOnce(tf, model, route, url) {
  let graph = null;
  let tensors = [];
  const spec = typeof model.routes[route] === 'string' ? { dir: model.routes[route], format: 'graph' } : model.routes[route];
  const layers = spec.format === 'layers';
  try {
    graph = layers ? await tf.loadLayersModel(url(spec.dir)) : await tf.loadGraphModel(url(spec.dir));
    const made = feedFor(tf, graph, model.inputs, layers);
    tensors = made.tensors;
    const call = layers ? 'predict' : await chooseCall(tf, graph, made.feed);
    const first = await timedCall(tf, graph, made.feed, call);
    const outputs = first.values.map((v, k) => ({ shape: first.shapes[k], values: Array.from(v) }));
    return { entry: { graph, tensors, feed: made.feed, call, times: [] }, result: { call, outputs } };
  } catch (error) {
    tf.dispose(tensors);
    if (graph) graph.dispose();
    return { entry: null, result: { error: String(error && error.message ? error.message : error) } };
  }
}

async function benchmarkModel(tf, model, { warmup, runs, url }) {
  const loaded = {};
  const result = {};
  for (const route of Object.keys(model.routes)) {
    const { entry, result: first } = await loadAndRunOnce(tf, model, route, url);
    result[route] = first;
    if (entry) loaded[route] = entry;
  }
  const routes = Object.keys(loaded);
  for (let i = 0; i < warmup; i++) {
    for (const route of routes) await timedCall(tf, loaded[route].graph, loaded[route].feed, loaded[route].call);
  }
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < routes.length; k++) {
      const entry = loaded[routes[(round + k) % routes.length]];
      entry.times.push((await timedCall(tf, entry.graph, entry.feed, entry.call)).milliseconds);
    }
  }
  for (const route of routes) {
    result[route].milliseconds = loaded[route].times;
    tf.dispose(loaded[route].tensors);
    loaded[route].graph.dispose();
  }
  return result;
}

export async function benchmarkModels(tf, models, options) {
  const results = {};
  for (const model of models) results[model.name] = await benchmarkModel(tf, model, options);
  return { backend: tf.getBackend(), tfjs: tf.version.tfjs, results };
}

// What a page waits for before its first prediction, once the backend is ready: the model loaded (model.json and its
// shards fetched, weights uploaded to the backend), then its first call (execute, or executeAsync where the graph
// has control flow; predict for a layers model) until the values are on the host; on WebGL that first call compiles
// the shaders. The second call's time is returned too, for scale.
export async function firstPrediction(tf, model, route, url) {
  const spec = typeof model.routes[route] === 'string' ? { dir: model.routes[route], format: 'graph' } : model.routes[route];
  const layers = spec.format === 'layers';
  let graph = null;
  let tensors = [];
  try {
    const started = performance.now();
    graph = layers ? await tf.loadLayersModel(url(spec.dir)) : await tf.loadGraphModel(url(spec.dir));
    const loadMs = performance.now() - started;
    const made = feedFor(tf, graph, model.inputs, layers);
    tensors = made.tensors;
    const before = performance.now();
    let call = layers ? 'predict' : 'execute';
    let result;
    if (layers) {
      result = graph.predict(made.feed);
    } else {
      try {
        result = graph.execute(made.feed);
      } catch (error) {
        if (!String(error && error.message).includes('executeAsync')) throw error;
        call = 'executeAsync';
        result = await graph.executeAsync(made.feed);
      }
    }
    const outputs = Array.isArray(result) ? result : [result];
    await Promise.all(outputs.map((t) => t.data()));
    const firstMs = performance.now() - before;
    tf.dispose(outputs);
    const second = await timedCall(tf, graph, made.feed, call);
    return { load_ms: loadMs, first_ms: firstMs, second_ms: second.milliseconds, call };
  } catch (error) {
    return { error: String(error && error.message ? error.message : error) };
  } finally {
    tf.dispose(tensors);
    if (graph) graph.dispose();
  }
}

// Per-kernel times of each route (tf.profile: every kernel the call ran, with the backend's own timing of it; on
// WASM and CPU a kernel runs synchronously, so its time is its own), `runs` profiled calls after `warmup` plain
// ones; per kernel name: calls per model call, milliseconds per model call (median over the runs).
export async function profileKernels(tf, models, { warmup, runs, url }) {
  const results = {};
  for (const model of models) {
    results[model.name] = {};
    for (const route of Object.keys(model.routes)) {
      const { entry, result } = await loadAndRunOnce(tf, model, route, url);
      if (!entry) {
        results[model.name][route] = { error: result.error };
        continue;
      }
      for (let i = 0; i < warmup; i++) await timedCall(tf, entry.graph, entry.feed, entry.call);
      const samples = {};
      const totals = [];
      const walls = [];
      for (let r = 0; r < runs; r++) {
        const started = performance.now();
        const info = await tf.profile(async () => {
          const out = entry.call === 'predict' ? entry.graph.predict(entry.feed)
            : entry.call === 'execute' ? entry.graph.execute(entry.feed) : await entry.graph.executeAsync(entry.feed);
          const outputs = Array.isArray(out) ? out : [out];
          await Promise.all(outputs.map((t) => t.data()));
          tf.dispose(outputs);
        });
        walls.push(performance.now() - started);
        const run = {};
        let total = 0;
        for (const kernel of info.kernels) {
          const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
          const slot = run[kernel.name] || (run[kernel.name] = { calls: 0, ms: 0 });
          slot.calls += 1;
          slot.ms += ms;
          total += ms;
        }
        totals.push(total);
        for (const [name, slot] of Object.entries(run)) (samples[name] || (samples[name] = [])).push(slot);
      }
      const median = (values) => { const s = [...values].sort((a, b) => a - b); const m = s.length >> 1;
        return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
      const kernels = Object.fromEntries(Object.entries(samples).map(([name, list]) =>
        [name, { calls: list[0].calls, ms: median(list.map((s) => s.ms)) }]));
      results[model.name][route] = { kernels, kernel_ms: median(totals), wall_ms: median(walls) };
      tf.dispose(entry.tensors);
      entry.graph.dispose();
    }
  }
  return { backend: tf.getBackend(), tfjs: tf.version.tfjs, results };
}

// Load the TensorFlow.js models a Python package ships (built by hatch-tfjs), in the browser.
//
//   <script src="/static/tf.min.js"></script>            <!-- TF.js itself: this module never bundles it -->
//   <script type="module">
//     import { loadModel } from "/models/tfjs-models.mjs";
//     const iris = await loadModel("iris");               // reads /models/index.json, then the model
//     const probabilities = await (await iris.predict([[6.3, 2.5, 4.9, 1.5]])).data();
//   </script>
//
// The index (index.json, written by the build hook and served by hatch_tfjs.serve next to this file) says for each
// model which TF.js loader it needs (format "layers": tf.loadLayersModel, "graph": tf.loadGraphModel) and how a graph
// runs (execution "sync": model.execute(); "async": model.executeAsync(), for graphs with control flow). predict()
// makes that choice, so a page never has to know how a model was converted.
//
// Served by another server: serve this file (hatch_tfjs.runtime.loader_path()) and pass baseUrl, the URL of the
// directory holding index.json. TF.js is taken from options.tf, else from the page's global `tf`.
//
// Backends: loadModel(name, { backend: "auto", warmup: true }) switches TF.js to the fastest backend the page has
// registered and the model runs on (webgpu, webgl, wasm, cpu: see chooseBackend) and runs the model once on zeros, so
// the first prediction the user waits for does not pay shader compilation.

const INDEX_NAME = "index.json";

function defaultBaseUrl() {
  return new URL("./", import.meta.url).href; // served next to index.json
}

function tfjsOf(options) {
  const tf = options.tf ?? globalThis.tf;
  if (!tf || typeof tf.loadLayersModel !== "function" || typeof tf.loadGraphModel !== "function") {
    throw new Error(
      "tfjs-models: TensorFlow.js not found: load it before this module (<script src=\".../tf.min.js\">) " +
        "or pass it: loadModel(name, { tf })",
    );
  }
  return tf;
}

function directoryUrl(baseUrl) {
  const text = String(baseUrl ?? defaultBaseUrl());
  const absolute = new URL(text.endsWith("/") ? text : `${text}/`, globalThis.location?.href ?? import.meta.url);
  return absolute.href;
}

// The names hatch-tfjs gives models (hatch_tfjs/names.py): each is one URL segment.
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `url` lies under the directory URL `directory` (same origin, path below it). */
function isUnder(url, directory) {
  return url.origin === directory.origin && url.origin !== "null" && url.pathname.startsWith(directory.pathname);
}

/** The absolute URL of an index entry's model.json. Only a relative path that stays under the directory holding the
 * index is accepted, and only an entry whose name is a plain model name: whatever an index says, the page fetches
 * nothing from elsewhere (no other site, no `//host/` or `data:` or `javascript:` URL, no climbing out with `..`). */
function modelUrl(entry, position, indexUrl) {
  const base = new URL("./", indexUrl);
  const named = entry && typeof entry === "object" && typeof entry.name === "string";
  const label = named ? `model ${JSON.stringify(entry.name)}` : `entry #${position + 1} of "models"`;
  const refuse = (problem) =>
    new Error(
      `tfjs-models: ${indexUrl}: ${label} ${problem}; the loader only loads plain model names at relative paths ` +
        `under ${base.href}: rebuild the package, or fix the index`,
    );
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
    throw refuse(`is ${JSON.stringify(entry)}, not an object`);
  }
  if (!named || !MODEL_NAME.test(entry.name)) {
    throw refuse(`has the name ${JSON.stringify(entry.name)}, not a plain model name (letters, digits, "_", "-", ".")`);
  }
  // hatch_tfjs.serve lists "url"; the index.json the build writes (served as a static file) has "path"
  const key = entry.url !== undefined ? "url" : entry.path !== undefined ? "path" : "name";
  const given = key === "url" ? entry.url : key === "path" ? entry.path : entry.name;
  if (typeof given !== "string" || given === "") {
    throw refuse(`has the ${key} ${JSON.stringify(given)}, not a relative path`);
  }
  if (SCHEME.test(given) || given.startsWith("/") || given.includes("\\") || CONTROL.test(given)) {
    throw refuse(`has the ${key} ${JSON.stringify(given)}, not a relative path`);
  }
  const url = new URL(key === "url" ? given : `${given.replace(/\/+$/, "")}/model.json`, indexUrl);
  if (!isUnder(url, base)) {
    throw refuse(`has the ${key} ${JSON.stringify(given)}, which leads to ${url.href}, outside ${base.href}`);
  }
  return url.href;
}

const indexCache = new Map(); // index URL -> Promise of the parsed index (one fetch per page)

async function fetchIndex(indexUrl, fetchOptions) {
  let response;
  try {
    response = await fetch(indexUrl, fetchOptions);
  } catch (error) {
    throw new Error(
      `tfjs-models: cannot fetch ${indexUrl} (${error.message}); is the server up, and serving the models there ` +
        "(hatch_tfjs.serve)? Pages opened as file:// cannot fetch: open the page through the server",
    );
  }
  if (!response.ok) {
    throw new Error(
      `tfjs-models: ${indexUrl} answered HTTP ${response.status}; mount the package's models there ` +
        "(hatch_tfjs.serve) or pass baseUrl: the URL of the directory holding index.json",
    );
  }
  const text = await response.text();
  let index;
  try {
    index = JSON.parse(text);
  } catch {
    throw new Error(
      `tfjs-models: ${indexUrl} is not JSON (it starts with ${JSON.stringify(text.slice(0, 20))}): the server answered ` +
        "with something else than the models' index; mount the models there (hatch_tfjs.serve) or pass baseUrl",
    );
  }
  if (!index || !Array.isArray(index.models)) {
    throw new Error(`tfjs-models: ${indexUrl} is not a hatch-tfjs model index (no "models" list)`);
  }
  return index;
}

/** Each model's index entry, with `url`: the absolute URL of its model.json. */
export async function listModels(options = {}) {
  const base = directoryUrl(options.baseUrl);
  const indexUrl = new URL(INDEX_NAME, base).href;
  if (!indexCache.has(indexUrl)) {
    const pending = fetchIndex(indexUrl, options.fetchOptions);
    pending.catch(() => indexCache.delete(indexUrl)); // a failed fetch is retried on the next call
    indexCache.set(indexUrl, pending);
  }
  const index = await indexCache.get(indexUrl);
  return index.models.map((entry, position) => ({
    ...entry,
    url: modelUrl(entry, position, indexUrl),
    execution: entry.execution ?? (entry.format === "graph" ? "async" : "sync"),
  }));
}

/** TF.js reads whatever a shard request returns as weights: a 404 page makes a graph model fail with "byte length of
 * Float32Array should be a multiple of 4" and lets a layers model load with garbage weights. This fetch refuses any
 * answer but 2xx, naming the file; and it fetches nothing outside the model's folder (a manifest path such as
 * "../../x" or "//host/x"). */
function checkedFetch(fetchFunc, modelJsonUrl, modelName) {
  const folder = new URL("./", modelJsonUrl);
  return async (url, init) => {
    const target = new URL(String(url), modelJsonUrl);
    if (!isUnder(target, folder)) {
      throw new Error(
        `tfjs-models: ${modelName}: its model.json names ${url}, outside the model's folder ${folder.href}; ` +
          "not fetched: a weights manifest lists plain file names next to model.json (rebuild the package)",
      );
    }
    const response = await fetchFunc(url, init);
    const shown = String(url).replace(/\?v=[0-9a-f]{64}$/, ""); // messages name the file, not loadEntry's ?v=
    if (response.status === 409) {
      const error = new Error(`tfjs-models: ${shown}: the model changed on the server while it loaded (HTTP 409)`);
      error.modelChanged = true; // loadModel() loads it again, once, from a fresh index
      throw error;
    }
    if (!response.ok) {
      throw new Error(
        `tfjs-models: ${shown} answered HTTP ${response.status}: the model folder on the server is incomplete ` +
          "(serve model.json and every shard it lists; hatch_tfjs.serve does)",
      );
    }
    return response;
  };
}

function isTensor(tf, value) {
  return value instanceof tf.Tensor;
}

function knownSize(shape) {
  return shape.every((d) => Number.isInteger(d) && d >= 0) ? shape.reduce((a, b) => a * b, 1) : null;
}

/** A tensor for one model input: tensors pass through; arrays (nested, or flat with the index's shape) are converted
 * with the input's dtype. Returns [tensor, createdHere]. */
function toTensor(tf, value, spec, modelName) {
  if (isTensor(tf, value)) {
    return [value, false];
  }
  const dtype = spec?.dtype === "int32" || spec?.dtype === "bool" ? spec.dtype : "float32";
  const flat = ArrayBuffer.isView(value) || (Array.isArray(value) && !value.some(Array.isArray));
  const rest = Array.isArray(spec?.shape) ? spec.shape.slice(1) : null; // the index's shape without the batch size
  const size = rest ? knownSize(rest) : null;
  if (flat && size) {
    if (value.length % size !== 0) {
      throw new Error(
        `tfjs-models: ${modelName}: input ${spec.name} takes [batch, ${rest.join(", ")}] (${size} values a row); ` +
          `got ${value.length} values`,
      );
    }
    return [tf.tensor(value, [value.length / size, ...rest], dtype), true];
  }
  return [tf.tensor(value, undefined, dtype), true];
}

function prepareInputs(tf, inputs, specs, modelName) {
  const created = [];
  const convert = (value, spec) => {
    const [tensor, fresh] = toTensor(tf, value, spec, modelName);
    if (fresh) created.push(tensor);
    return tensor;
  };
  let prepared;
  if (isTensor(tf, inputs) || (Array.isArray(inputs) && inputs.length > 0 && inputs.every((v) => isTensor(tf, v)))) {
    prepared = inputs;
  } else if (Array.isArray(inputs) && specs.length > 1) {
    prepared = inputs.map((value, i) => convert(value, specs[i]));
  } else if (Array.isArray(inputs) || ArrayBuffer.isView(inputs)) {
    prepared = convert(inputs, specs[0]);
  } else if (inputs && typeof inputs === "object") {
    prepared = Object.fromEntries(
      Object.entries(inputs).map(([name, value]) => [name, convert(value, specs.find((s) => s.name === name))]),
    );
  } else {
    throw new Error(`tfjs-models: ${modelName}: predict() takes a tensor, an array, or an object keyed by input name`);
  }
  return [prepared, created];
}

/** A layers model's predict() takes tensors in input order: an object keyed by input name becomes that list. */
function inputList(tf, prepared, names, modelName) {
  if (Array.isArray(prepared) || isTensor(tf, prepared)) {
    return prepared;
  }
  return names.map((name) => {
    if (!(name in prepared)) {
      throw new Error(`tfjs-models: ${modelName}: no value for input ${name} (inputs: ${names.join(", ")})`);
    }
    return prepared[name];
  });
}

export const BACKEND_PREFERENCE = ["webgpu", "webgl", "wasm", "cpu"]; // fastest first

/**
 * Switch TF.js to a backend and return its name. wanted: "auto" (the first of BACKEND_PREFERENCE that the page has
 * registered, that `allowed` lists - a model's index entry's "backends", the backends with a kernel for each of its
 * ops - and that initialises), or one backend's name (an error names the fix when it cannot be used). TF.js has one
 * backend for the whole page: every model runs on it. WASM needs @tensorflow/tfjs-backend-wasm's script on the page
 * and its .wasm files: served beside that script, or wherever options.wasmPaths says (tf.wasm.setWasmPaths).
 */
export async function chooseBackend(tf, wanted = "auto", allowed = null, options = {}) {
  const usable = (name) => (!allowed || allowed.includes(name)) && tf.findBackendFactory(name) != null;
  if (options.wasmPaths && tf.wasm && typeof tf.wasm.setWasmPaths === "function" && tf.findBackend("wasm") == null) {
    tf.wasm.setWasmPaths(options.wasmPaths);
  }
  if (wanted !== "auto") {
    if (!usable(wanted)) {
      const why = allowed && !allowed.includes(wanted)
        ? `the model has ops without a ${wanted} kernel (it runs on: ${allowed.join(", ")})`
        : `the page has not registered it (load its script, e.g. @tensorflow/tfjs-backend-${wanted}, before this module)`;
      throw new Error(`tfjs-models: cannot use TF.js backend "${wanted}": ${why}; or pass backend: "auto"`);
    }
    if (tf.getBackend() !== wanted && !(await tf.setBackend(wanted))) {
      throw new Error(`tfjs-models: TF.js backend "${wanted}" failed to initialise here; pass backend: "auto"`);
    }
    return wanted;
  }
  for (const name of BACKEND_PREFERENCE) {
    if (!usable(name)) continue;
    if (tf.getBackend() === name || (await tf.setBackend(name))) return name;
  }
  throw new Error(`tfjs-models: no TF.js backend of ${(allowed ?? BACKEND_PREFERENCE).join(", ")} initialises on this page`);
}

/** Zeros of each input's shape (unknown dimensions: 1) with its dtype, or null when an input's rank is unknown. */
function warmUpInputs(tf, specs) {
  if (specs.length === 0 || specs.some((s) => !Array.isArray(s.shape))) return null;
  const tensors = specs.map((s) => tf.zeros(s.shape.map((d) => (Number.isInteger(d) && d > 0 ? d : 1)),
    s.dtype === "int32" || s.dtype === "bool" ? s.dtype : "float32"));
  return specs.length === 1 ? tensors[0] : tensors;
}

/**
 * Load one model by name. options: baseUrl (the URL of the directory holding index.json; default: where this module
 * was served from), tf (default: the global tf), fetchOptions (for the index), loadOptions (for tf.load*Model, e.g.
 * onProgress), backend ("auto" or a backend's name: see chooseBackend; default: leave TF.js's backend as it is),
 * wasmPaths (where the WASM backend's .wasm files are), warmup (true: run the model once on zeros before resolving).
 * Resolves to { name, format, execution, backend, url, model, metadata, labels, inputs, outputs, predict(inputs),
 * dispose() }.
 */
export async function loadModel(name, options = {}) {
  const tf = tfjsOf(options);
  const indexUrl = new URL(INDEX_NAME, directoryUrl(options.baseUrl)).href;
  for (let attempt = 1; ; attempt += 1) {
    const entries = await listModels(options);
    const entry = entries.find((m) => m.name === name);
    if (!entry) {
      const known = entries.map((m) => m.name).join(", ") || "none";
      throw new Error(`tfjs-models: no model "${name}" in ${indexUrl}; models: ${known}`);
    }
    try {
      return await loadEntry(tf, entry, options);
    } catch (error) {
      if (!error?.modelChanged || attempt > 1) throw error;
      indexCache.delete(indexUrl); // rebuilt while loading: the fresh index names the new model.json
    }
  }
}

// hatch_tfjs.serve lists each model.json's sha256 as "version"; asked for with ?v=, which TF.js adds to each shard's
// URL too, it answers 409 for any file of a model rebuilt since, so a load never mixes two builds.
const VERSION = /^[0-9a-f]{64}$/;

async function loadEntry(tf, entry, options) {
  const graph = entry.format === "graph";
  if (options.backend) await chooseBackend(tf, options.backend, entry.backends ?? null, options);
  const loadOptions = {
    ...options.loadOptions,
    fetchFunc: checkedFetch(options.loadOptions?.fetchFunc ?? ((url, init) => fetch(url, init)), entry.url, entry.name),
  };
  const url = typeof entry.version === "string" && VERSION.test(entry.version) ? `${entry.url}?v=${entry.version}` : entry.url;
  const model = graph ? await tf.loadGraphModel(url, loadOptions) : await tf.loadLayersModel(url, loadOptions);
  const inputs = entry.inputs ?? [];
  const metadata = entry.metadata ?? {};
  const loaded = {
    name: entry.name,
    format: entry.format,
    execution: entry.execution,
    backend: tf.getBackend(),
    url: entry.url,
    model,
    metadata,
    labels: Array.isArray(metadata.labels) ? metadata.labels : null,
    inputs,
    outputs: entry.outputs ?? [],
    /** Run the model; tensors it creates from arrays are disposed, the outputs are the caller's to dispose. */
    async predict(values) {
      const [prepared, created] = prepareInputs(tf, values, inputs, entry.name);
      try {
        if (!graph) return model.predict(inputList(tf, prepared, inputs.map((spec) => spec.name), entry.name));
        return entry.execution === "async" ? await model.executeAsync(prepared) : model.execute(prepared);
      } finally {
        created.forEach((tensor) => tensor.dispose());
      }
    },
    dispose() {
      model.dispose();
    },
  };
  const zeros = options.warmup ? warmUpInputs(tf, inputs) : null;
  if (zeros) {
    try {
      const output = await loaded.predict(zeros);
      await Promise.all((output instanceof tf.Tensor ? [output] : Object.values(output)).map((t) => t.data()));
      tf.dispose(output);
    } finally {
      tf.dispose(zeros);
    }
  }
  return loaded;
}

// Type declarations for tfjs-models.mjs, the browser loader hatch-tfjs ships next to a package's models.
import type * as tfjs from "@tensorflow/tfjs";

/** One input or output of a model, as the index lists it (a null dimension takes any size; shape null: unknown). */
export interface TensorSpec {
  name: string;
  shape: Array<number | null> | null;
  dtype: string;
}

/** A model's entry in index.json, with `url` made absolute. */
export interface ModelEntry {
  name: string;
  /** "layers": tf.loadLayersModel; "graph": tf.loadGraphModel. */
  format: "layers" | "graph";
  /** "sync": model.predict()/execute(); "async": model.executeAsync() (graphs with control flow). */
  execution: "sync" | "async";
  /** The TF.js backends with a kernel for every op of the model, fastest first (absent in older indexes: any). */
  backends?: Backend[];
  /** Absolute URL of the model's model.json. */
  url: string;
  /** sha256 of model.json (hatch_tfjs.serve's listing): loads ask for model.json?v=<version>, never mixing builds. */
  version?: string;
  bytes?: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metadata: Record<string, unknown>;
}

/** The TF.js backends hatch-tfjs knows, fastest first (chooseBackend's order for "auto"). */
export type Backend = "webgpu" | "webgl" | "wasm" | "cpu";
export const BACKEND_PREFERENCE: readonly Backend[];

export interface BackendOptions {
  /** Where the WASM backend's .wasm files are served (tf.wasm.setWasmPaths); default: beside its script. */
  wasmPaths?: string | Record<string, string>;
}

export interface LoadOptions extends BackendOptions {
  /** "auto": the fastest backend the page registered and the model runs on; a name: that one; default: TF.js's own. */
  backend?: "auto" | Backend;
  /** Run the model once on zeros before resolving, so the first real prediction does not compile shaders. */
  warmup?: boolean;
  /** URL of the directory holding index.json; default: the directory this module was served from. */
  baseUrl?: string | URL;
  /** The TF.js namespace; default: the page's global `tf`. */
  tf?: typeof tfjs;
  /** Passed to fetch() for index.json. */
  fetchOptions?: RequestInit;
  /** Passed to tf.loadLayersModel / tf.loadGraphModel (e.g. onProgress). */
  loadOptions?: tfjs.io.LoadOptions;
}

/** A tensor, or numbers (nested arrays; or flat, shaped by the index's input shape) converted with the input's dtype. */
export type InputValue = tfjs.Tensor | tfjs.TensorLike;

/** One value for a one-input model, a list in input order, or an object keyed by input name. */
export type Inputs = InputValue | InputValue[] | Record<string, InputValue>;

export interface LoadedModel<M extends tfjs.LayersModel | tfjs.GraphModel = tfjs.LayersModel | tfjs.GraphModel> {
  name: string;
  format: "layers" | "graph";
  execution: "sync" | "async";
  /** The TF.js backend active when the model was loaded (TF.js has one for the whole page). */
  backend: string;
  url: string;
  model: M;
  metadata: Record<string, unknown>;
  /** metadata.labels when it is a list, else null. */
  labels: unknown[] | null;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Runs the model with the call its index entry names; dispose the outputs when done. */
  predict(inputs: Inputs): Promise<tfjs.Tensor | tfjs.Tensor[] | tfjs.NamedTensorMap>;
  dispose(): void;
}

/** Every model the index lists. */
export function listModels(options?: LoadOptions): Promise<ModelEntry[]>;

/** Loads the model called `name` with the TF.js loader its index entry names. */
export function loadModel(name: string, options?: LoadOptions): Promise<LoadedModel>;

/** Switches TF.js to `wanted` ("auto": the first of BACKEND_PREFERENCE registered, in `allowed`, and initialising)
 * and resolves to the backend's name; rejects with the fix when it cannot. */
export function chooseBackend(
  tf: typeof tfjs,
  wanted?: "auto" | Backend,
  allowed?: readonly string[] | null,
  options?: BackendOptions,
): Promise<Backend>;

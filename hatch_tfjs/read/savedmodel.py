"""Graph-model reader: a SavedModel directory or a Keras file becomes a frozen, optimised GraphDef, as plain data.

This module is the TensorFlow half of the graph route and does only what needs TensorFlow; the pure half (rewrites
for TF.js, op check, weights) is :mod:`hatch_tfjs.translate.graph_pipeline`, and :mod:`hatch_tfjs.graph_route`
composes the two. TensorFlow is imported inside the functions, never at module import: hatchling imports the hook
(and the configuration) just to ask for dependencies.

Steps (all with TensorFlow's own APIs):

1. load the serving function: ``tf.saved_model.load(dir, tags).signatures[signature]`` or, for a Keras file, a
   ``tf.function`` around the loaded model (RNN layers unrolled when their sequence length is static), recording
   which layer created each node;
2. freeze it with ``convert_variables_to_constants_v2`` (control flow lowered to Switch/Merge/Enter/Exit unless
   ``control-flow-v2``), keeping captured resources (hash tables) as inputs;
3. freeze, for each captured resource, the functions that create and fill it (they become ``modelInitializer``);
4. grappler (``tf.compat.v1`` meta-optimizer): function inlining, pruning, constant folding, arithmetic, dependency
   [, debug_stripper], and the input channels of each convolution (to spot grouped ones).

The result is a :class:`~hatch_tfjs.neutral.FrozenGraph`: GraphDef dicts, signature entries, no TensorFlow objects.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs.errors import ModelReadError, UnsupportedModelError
from hatch_tfjs.keras_names import MAX_UNROLLED_STEPS, is_keras_file, looped_note
from hatch_tfjs.neutral import FrozenGraph, NodeOrigins, ResourceInitializers, TensorSpec
from hatch_tfjs.option_naming import BUILD_NAMING, OptionNaming
from hatch_tfjs.options import GraphOptions
from hatch_tfjs.read._tensorflow import import_tensorflow_module

__all__ = [
    "KerasServing",
    "keras_serving_function",
    "load_saved_model_function",
    "read_frozen_graph",
    "reset_between_models",
    "run_grappler",
]



def _tf() -> Any:
    return import_tensorflow_module("tensorflow", "graph models")


# --- sources ----------------------------------------------------------------------------------------------------------


def _saved_model_tag_sets(tf: Any, source: Path) -> list[list[str]]:
    from tensorflow.python.saved_model import loader_impl

    saved_model = loader_impl.parse_saved_model(str(source))
    return [list(mg.meta_info_def.tags) for mg in saved_model.meta_graphs]


def load_saved_model_function(
    source: Path, model_name: str, options: GraphOptions, shown: str | None = None, naming: OptionNaming = BUILD_NAMING
) -> tuple[Any, Any]:
    """``(loaded object, concrete function)`` of the requested signature, with clear errors for bad keys.

    ``source`` must already be known to be a SavedModel directory (``graph_route.check_savedmodel_dir``)."""
    tf = _tf()
    try:
        tag_sets = _saved_model_tag_sets(tf, source)
    except Exception as exc:
        raise ModelReadError(
            f"{shown or source}: model '{model_name}': TensorFlow cannot parse this SavedModel: {exc}"
        ) from exc
    if sorted(options.tags) not in [sorted(t) for t in tag_sets]:
        available = "; ".join(repr(t) for t in tag_sets) or "none"
        raise ModelReadError(
            f"{shown or source}: model '{model_name}': no MetaGraph with tags {list(options.tags)!r} (set by "
            f"{naming.key(model_name, 'tags')}); "
            f"the SavedModel has tag sets: {available}; set tags to one of them"
        )
    try:
        loaded = tf.saved_model.load(str(source), tags=list(options.tags))
    except Exception as exc:
        raise ModelReadError(
            f"{shown or source}: model '{model_name}': TensorFlow could not load this SavedModel: {full_reason(exc)}"
        ) from exc
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if options.signature not in signatures:
        available = ", ".join(repr(s) for s in sorted(signatures)) or "none"
        fix = (
            f"set {naming.key(model_name, 'signature')} to one of them"
            if signatures
            else "save it with a signature: tf.saved_model.save(module, dir, signatures=module.__call__) "
            "or keras Model.export(dir)"
        )
        raise ModelReadError(
            f"{shown or source}: model '{model_name}': the SavedModel has no signature {options.signature!r} "
            f"({naming.key(model_name, 'signature')}); signatures it has: {available}; {fix}"
        )
    return loaded, signatures[options.signature]


def _rnn_layers(model: Any, keras: Any) -> list[Any]:
    found: list[Any] = []

    def visit(layer: Any) -> None:
        if isinstance(layer, keras.layers.RNN):
            found.append(layer)
        for attr in ("forward_layer", "backward_layer", "layer"):
            sub = getattr(layer, attr, None)
            if sub is not None and sub is not layer and isinstance(sub, keras.layers.Layer):
                visit(sub)
        for sub in getattr(layer, "_layers", []) or []:
            visit(sub)

    visit(model)
    return found


@dataclass
class KerasServing:
    """A Keras file's inference call traced as a tf.function, and what the trace recorded."""

    model: Any
    concrete: Any
    notes: list[str]
    output_keys: list[str]
    origins: NodeOrigins


def _operations(model: Any) -> list[Any]:
    """Every layer and ``keras.ops`` call of ``model``, nested models and their operations included."""
    found: list[Any] = []
    for operation in getattr(model, "operations", None) or getattr(model, "layers", []):
        found.append(operation)
        if hasattr(operation, "operations") or hasattr(operation, "layers"):
            found.extend(_operations(operation))
    return found


@contextmanager
def _recording_origins(model: Any, keras: Any, tf: Any) -> Iterator[NodeOrigins]:
    """While tracing ``model``, record which layer or ``keras.ops`` call created each graph node (the innermost one,
    as a nested call returns first), so the op check can name them."""
    origins = NodeOrigins()
    operations = list({id(op): op for op in _operations(model)}.values())  # a shared layer is wrapped once

    def recorder(operation: Any) -> Callable[..., Any]:
        is_layer = isinstance(operation, keras.layers.Layer)
        label = (
            f"layer '{operation.name}' ({type(operation).__name__})"
            if is_layer
            else f"keras.ops call '{operation.name}'"
        )
        original = operation.call

        def call(*args: Any, **kwargs: Any) -> Any:
            graph = tf.compat.v1.get_default_graph()
            scope = tf.get_current_name_scope()
            before = len(graph.get_operations())
            result = original(*args, **kwargs)
            for created in graph.get_operations()[before:]:
                origins.by_node.setdefault(created.name, label)
            if is_layer and scope:
                origins.by_scope.setdefault(scope, label)
            return result

        return call

    for operation in operations:  # plain attribute writes: Keras's attribute tracking must not see the wrappers
        object.__setattr__(operation, "call", recorder(operation))
    try:
        yield origins
    finally:
        for operation in operations:
            object.__delattr__(operation, "call")


def full_reason(exc: BaseException) -> str:
    """An exception's whole message, never cut: its lines stripped, empty ones dropped, each further line indented
    under the first (the build prefixes every line); its class name when it says nothing."""
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    return "\n    ".join(lines) if lines else type(exc).__name__


def _load_failure(source: Path, model_name: str, exc: BaseException, keras: Any, naming: OptionNaming) -> str:
    """What to tell when Keras cannot load a Keras file: Keras's whole reason, then the fix. The classes it could not
    find are named with their module (from the file's config); anything else gets the SavedModel fix."""
    text = str(exc)
    export = f"export a SavedModel (model.export('models/{model_name}')) and set source to that directory"
    if "lambda" in text.lower() or "safe_mode" in text:
        hint = (
            "; the model has a Lambda layer, whose Python code Keras will not load from a file in safe mode: "
            f"export a SavedModel instead (model.export('models/{model_name}')) and set source to that directory"
        )
    else:
        missing = _missing_classes(source, model_name, keras, naming)
        hint = "; " + "; ".join(missing) + f" (or {export})" if missing else f"; Keras itself cannot load it: {export}"
    return f"{source}: Keras could not load model '{model_name}': {full_reason(exc)}{hint}"


def _missing_classes(source: Path, model_name: str, keras: Any, naming: OptionNaming) -> list[str]:
    """One line per class of the file that Keras cannot find here, naming its module and the line to add."""
    from hatch_tfjs.env import importable
    from hatch_tfjs.libraries import foreign_classes
    from hatch_tfjs.read.keras_config import read_keras_config

    config = read_keras_config(source, any_class=True)
    registered = set(keras.saving.get_custom_objects())
    lines = []
    for found in foreign_classes(config) if config is not None else []:
        distribution = found.distribution
        if distribution is not None:
            if not importable(found.package):
                declare = f', or add dependencies = ["{distribution}"] to {naming.hook_table}'
                declare = "" if naming.command_line else declare
                lines.append(
                    f"{found.describe()} needs {distribution}, which is not installed here: install it "
                    f"(pip install {distribution}){declare}"
                )
        elif (found.registered_name or f"{found.package}>{found.class_name}") not in registered:
            register = naming.set_on_model(model_name, "custom-modules", f'["{found.module}"]', found.module)
            provided = f'add dependencies = ["<that distribution>"] to {naming.hook_table}'
            provided = "install it here" if naming.command_line else provided
            lines.append(
                f"{found.describe()} is not registered when Keras loads the file: if module '{found.module}' is part "
                f"of this project, {register}; if a distribution provides it, {provided}"
            )
    return lines


def _input_specs(model: Any, tf: Any) -> Any:
    """The model's own input structure (one tensor, a list, a dict by name, nested) as TensorSpecs, batch axis free.

    The model is called with exactly this structure: Keras 3 refuses a list for a model built on a dict. Each spec
    is named like the graph input TF.js will show: its key when it is a dict's value (the name the user calls the
    model with), else the name of the Keras input layer it comes from (what ``model.inputs`` shows the user, and the
    compiler names it: an unnamed ``keras.Input`` is ``input_layer``, where its tensor is ``keras_tensor_7``)."""
    structure = getattr(model, "_inputs_struct", None)
    if structure is None:
        structure = model.inputs if len(model.inputs) > 1 else model.inputs[0]

    def spec(tensor: Any, key: str | None) -> Any:
        history = getattr(tensor, "_keras_history", None)
        layer_name = getattr(getattr(history, "operation", None), "name", None)
        name = key if key is not None else layer_name or tensor.name.split(":")[0].split("/")[0]
        return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype, name=name)

    def visit(value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: visit(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(visit(v, None) for v in value)
        return spec(value, key)

    return visit(structure, None)


def keras_serving_function(
    source: Path, model_name: str, options: GraphOptions, naming: OptionNaming = BUILD_NAMING
) -> KerasServing:
    """A Keras file's inference call traced as a tf.function.

    RNN layers whose sequence length is static are unrolled (``layer.unroll = True``), so the graph has no While loop.
    """
    tf = _tf()
    import keras

    try:
        model = keras.saving.load_model(str(source), compile=False, safe_mode=True)
    except Exception as exc:
        raise ModelReadError(_load_failure(source, model_name, exc, keras, naming)) from exc
    notes: list[str] = []
    unrolled, looped = [], []
    for layer in _rnn_layers(model, keras):
        steps = None
        try:
            steps = layer.input.shape[1] if hasattr(layer, "input") else None
        except Exception:  # noqa: BLE001 - layers used more than once have no single input
            steps = None
        if steps is not None and steps > MAX_UNROLLED_STEPS:
            layer.unroll = False  # a loop, whose size does not grow with the length (Keras's unroll=True included)
            looped.append(f"{layer.name} ({steps} steps)")
        elif steps is not None and not getattr(layer, "unroll", False):
            layer.unroll = True
            unrolled.append(layer.name)
    if unrolled:
        notes.append(
            f"unrolled RNN layer(s) {', '.join(unrolled)} over their fixed sequence length (no While loop in TF.js)"
        )
    if looped:
        notes.append(looped_note(looped))

    specs = _input_specs(model, tf)
    output_names = list(getattr(model, "output_names", []) or [])

    keys: list[str] = []

    def serve(inputs: Any) -> Any:
        outputs = model(inputs, training=False)
        if isinstance(outputs, dict):  # flattened in sorted key order, as TF flattens dicts
            keys[:] = sorted(outputs)
            return {k: tf.identity(outputs[k], name=k) for k in keys}
        flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        keys[:] = output_names if len(output_names) == len(flat) else [f"output_{i}" for i in range(len(flat))]
        return [tf.identity(v, name=k) for k, v in zip(keys, flat, strict=True)]

    with _recording_origins(model, keras, tf) as origins:
        concrete = tf.function(serve).get_concrete_function(specs)
    return KerasServing(model, concrete, notes, list(keys), origins)


# --- freezing ---------------------------------------------------------------------------------------------------------


@dataclass
class Frozen:
    """A frozen serving function while TensorFlow still works on it: the GraphDef proto, its signature entries, and
    the captured resource handle behind each resource input."""

    graph_def: Any  # GraphDef proto
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    resources: list[tuple[TensorSpec, Any]]  # (signature input, captured resource handle)


def _structured_keys(concrete: Any, tf: Any) -> list[str]:
    structured = concrete.structured_outputs
    if isinstance(structured, dict):
        return list(tf.nest.flatten({k: k for k in structured}))
    flat = tf.nest.flatten(structured)
    return [f"output_{i}" for i in range(len(flat))]


def _input_keys(concrete: Any, tf: Any) -> list[str]:
    try:
        args, kwargs = concrete.structured_input_signature
        specs = tf.nest.flatten((args, kwargs))
        return [s.name for s in specs]
    except Exception:  # noqa: BLE001 - a signature TensorFlow cannot flatten: the placeholder names are used
        return []


def freeze(concrete: Any, options: GraphOptions, output_keys: list[str] | None = None) -> Frozen:
    tf = _tf()
    from tensorflow.python.framework import convert_to_constants

    frozen_fn = convert_to_constants.convert_variables_to_constants_v2(
        concrete, lower_control_flow=not options.control_flow_v2, aggressive_inlining=True
    )
    graph_def = frozen_fn.graph.as_graph_def()
    node_ops = {n.name: n.op for n in graph_def.node}

    # Inputs: the function's own arguments that are still placeholders, then captured resources (hash tables).
    arg_count = len(concrete.inputs) - len(concrete.captured_inputs)
    keys = _input_keys(concrete, tf)
    inputs: list[TensorSpec] = []
    resources: list[tuple[TensorSpec, Any]] = []
    captured = list(concrete.captured_inputs)
    for index, tensor in enumerate(frozen_fn.inputs):
        op_name = tensor.name.split(":")[0]
        if node_ops.get(op_name) != "Placeholder":
            continue
        dtype = tensor.dtype.as_datatype_enum
        dtype_name = tf.dtypes.as_dtype(dtype).name
        spec_dtype = "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "bool": "BOOL", "string": "STRING"}.get(
            dtype_name, dtype_name.upper()
        )
        shape = None if tensor.shape.rank is None else [-1 if d is None else int(d) for d in tensor.shape.as_list()]
        if tensor.dtype == tf.resource:
            resources.append((TensorSpec(tensor.name, tensor.name, "DT_RESOURCE", []), op_name))
            continue
        key = keys[index] if index < arg_count and index < len(keys) and keys[index] else op_name
        inputs.append(TensorSpec(key, tensor.name, spec_dtype, shape))

    # Map each resource placeholder to the captured handle it stands for (by position among the function inputs).
    placeholder_to_capture: dict[str, Any] = {}
    for position, tensor in enumerate(concrete.inputs):
        if position >= arg_count and tensor.dtype == tf.resource:
            placeholder_to_capture[tensor.name] = captured[position - arg_count]
    resolved = []
    for spec, _op_name in resources:
        handle = placeholder_to_capture.get(spec.tensor)
        resolved.append((spec, handle))

    out_keys = output_keys or _structured_keys(concrete, tf)
    outputs = []
    for key, tensor in zip(out_keys, frozen_fn.outputs, strict=False):
        dtype_name = tensor.dtype.name
        spec_dtype = "DT_" + {"float32": "FLOAT", "float64": "DOUBLE", "bool": "BOOL", "string": "STRING"}.get(
            dtype_name, dtype_name.upper()
        )
        shape = None if tensor.shape.rank is None else [-1 if d is None else int(d) for d in tensor.shape.as_list()]
        outputs.append(TensorSpec(key, tensor.name, spec_dtype, shape))
    return Frozen(graph_def, inputs, outputs, resolved)


# --- grappler ---------------------------------------------------------------------------------------------------------


def run_grappler(graph_def: Any, inputs: list[str], outputs: list[str], optimizers: list[str]) -> Any:
    """One run of TensorFlow's meta-optimizer with exactly ``optimizers`` (tensor names ``node:0``)."""
    tf = _tf()
    from tensorflow.core.protobuf import config_pb2, device_properties_pb2, meta_graph_pb2
    from tensorflow.python.grappler import cluster as gcluster
    from tensorflow.python.grappler import tf_optimizer

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=graph)
    fetch = meta_graph.collection_def["train_op"].node_list.value
    for name in outputs:
        fetch.append(name.split(":")[0])
    signature = meta_graph_pb2.SignatureDef()
    for group, names in ((signature.inputs, inputs), (signature.outputs, outputs)):
        for name in names:
            tensor = graph.get_tensor_by_name(name)
            group[name].name = name
            group[name].dtype = tensor.dtype.as_datatype_enum
            group[name].tensor_shape.CopyFrom(tensor.shape.as_proto())
    meta_graph.signature_def["serving"].CopyFrom(signature)

    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.optimizers[:] = optimizers
    rewrite.min_graph_nodes = -1
    device = device_properties_pb2.NamedDevice()
    device.name = "/device:CPU:0"
    device.properties.type = "CPU"
    cluster = gcluster.Cluster(devices=[device])
    return tf_optimizer.OptimizeGraph(config, meta_graph, cluster=cluster)


def _to_dict(proto: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    document: dict[str, Any] = MessageToDict(proto)
    return document


def _allow_inlining(graph_def: Any) -> None:
    """Let grappler inline every function call. Keras compiles some ops with XLA (grouped convolutions run through a
    ``jit_compile=True`` function), and a call marked ``_XlaMustCompile`` would survive freezing as a
    ``StatefulPartitionedCall``, which TF.js cannot run."""
    for function in graph_def.library.function:
        for key in ("_XlaMustCompile", "_noinline"):
            if key in function.attr:
                del function.attr[key]
    for node in graph_def.node:
        if "_XlaMustCompile" in node.attr:
            del node.attr["_XlaMustCompile"]


def _conv_input_channels(graph_def: Any) -> dict[str, int]:
    """The input channel count of every NHWC Conv2D whose input shape TensorFlow knows (to spot grouped ones)."""
    tf = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    channels = {}
    for op in graph.get_operations():
        if op.type == "Conv2D" and op.get_attr("data_format") == b"NHWC":
            last = op.inputs[0].shape[-1] if op.inputs[0].shape.rank else None
            if last is not None:
                channels[op.name] = int(last)
    return channels


def optimize(frozen: Frozen, options: GraphOptions) -> tuple[dict[str, Any], dict[str, int]]:
    """Grappler (inlining, pruning, constant folding, arithmetic): ``(GraphDef dict, input channels of each NHWC
    Conv2D)``."""
    inputs = [s.tensor for s in frozen.inputs] + [s.tensor for s, _ in frozen.resources]
    outputs = [s.tensor for s in frozen.outputs]
    passes = [
        "function",
        "pruning",
        "constfold",
        "arithmetic",
        "dependency",
        "pruning",
        "constfold",
        "arithmetic",
        "dependency",
    ]
    if options.strip_debug_ops:
        passes.insert(0, "debug_stripper")
    _allow_inlining(frozen.graph_def)
    graph_def = run_grappler(frozen.graph_def, inputs, outputs, passes)
    return _to_dict(graph_def), _conv_input_channels(graph_def)


# --- resources (hash tables) ------------------------------------------------------------------------------------------


def _resource_owners(loaded: Any) -> dict[int, Any]:
    """``id(handle) -> trackable`` for every resource reachable from the loaded object."""
    tf = _tf()
    owners: dict[int, Any] = {}
    try:
        objects = tf.train.TrackableView(loaded).descendants()
    except Exception:  # noqa: BLE001 - an object TensorFlow cannot walk owns no resource this reader can rebuild
        return owners
    for obj in objects:
        try:
            handle = obj.resource_handle
        except Exception:  # noqa: BLE001, S112 - not a resource, or an uninitialised one: nothing to record
            continue
        owners[id(handle)] = obj
    return owners


def freeze_initializers(frozen: Frozen, loaded: Any, model_name: str, source: str) -> ResourceInitializers | None:
    """The frozen functions creating and filling every captured resource, or None when there is none."""
    if not frozen.resources:
        return None
    tf = _tf()
    owners = _resource_owners(loaded)
    plans = []
    for spec, handle in frozen.resources:
        owner = owners.get(id(handle)) if handle is not None else None
        if owner is None or not hasattr(owner, "_create_resource") or not hasattr(owner, "_initialize"):
            raise UnsupportedModelError(
                model_name,
                source,
                [
                    f"input {spec.tensor} is a captured resource (e.g. a lookup table) whose initializer cannot be "
                    "found; only tables created in the module (tf.lookup.StaticHashTable with a "
                    "KeyValueTensorInitializer) are supported"
                ],
                kind="graph",
            )
        plans.append(owner)

    from tensorflow.python.framework import convert_to_constants

    def create_resources() -> list[Any]:
        return [owner._create_resource() for owner in plans]

    create_cf = tf.function(create_resources).get_concrete_function()
    create = _to_dict(convert_to_constants.convert_variables_to_constants_v2(create_cf).graph.as_graph_def())
    fillers = []
    for owner in plans:
        init_fn = owner._initialize
        init_cf = (
            init_fn.get_concrete_function()
            if hasattr(init_fn, "get_concrete_function")
            else init_fn.concrete_functions[0]
        )
        fillers.append(_to_dict(convert_to_constants.convert_variables_to_constants_v2(init_cf).graph.as_graph_def()))
    return ResourceInitializers(create, [t.name for t in create_cf.outputs], fillers)


# --- the whole reader ----------------------------------------------------------------------------------------------


def reset_between_models() -> None:
    """Forget what an earlier model left in this process, so a worker converting many models writes each one as a
    fresh process would: Keras's global state (automatic name counters, the default graph) is cleared."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()


def read_frozen_graph(
    source: Path, *, model_name: str, source_rel: str, options: GraphOptions, naming: OptionNaming = BUILD_NAMING
) -> FrozenGraph:
    """Load, trace, freeze and optimise ``source`` (a SavedModel directory already checked, or a Keras file)."""
    tf = _tf()
    reset_between_models()
    notes: list[str] = []
    keepalive: Any  # the loaded model or module: its variables and resources must live until all is frozen
    output_keys: list[str] | None = None
    origins: NodeOrigins | None = None
    if is_keras_file(source):
        serving = keras_serving_function(source, model_name, options, naming)
        keepalive, concrete, notes, output_keys, origins = (
            serving.model,
            serving.concrete,
            serving.notes,
            serving.output_keys,
            serving.origins,
        )
    else:
        keepalive, concrete = load_saved_model_function(source, model_name, options, source_rel, naming)

    frozen = freeze(concrete, options, output_keys)
    initializers = freeze_initializers(frozen, keepalive, model_name, source_rel)
    graph, conv_input_channels = optimize(frozen, options)
    del keepalive
    return FrozenGraph(
        graph=graph,
        inputs=frozen.inputs,
        outputs=frozen.outputs,
        resources=[spec for spec, _ in frozen.resources],
        conv_input_channels=conv_input_channels,
        initializers=initializers,
        origins=origins,
        generated_by=tf.__version__,
        notes=notes,
    )

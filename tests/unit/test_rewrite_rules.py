"""The rewrite rules on plain configs (no TensorFlow): splicing, weights handed back, refusals and their wording."""

from __future__ import annotations

import numpy as np
from test_translate import functional, input_layer, layer, node, tensor

from hatch_tfjs.neutral import Weight
from hatch_tfjs.translate import translate_model_config


def op(class_name: str, name: str, args: list, module: str = "keras.src.ops.numpy") -> dict:
    return {"module": module, "class_name": class_name, "config": {"name": name}, "registered_name": None, "name": name,
            "inbound_nodes": [{"args": args, "kwargs": {}}]}  # fmt: skip


def layers_by_name(result) -> dict:
    return {entry["name"]: entry for entry in result.model_config["config"]["layers"]}


def test_removed_layers_are_rewired_to_consumers_and_outputs():
    config = functional(
        [
            input_layer(),
            layer("RandomFlip", "flip", {"mode": "horizontal"}, [node(tensor("x"))]),
            layer("Identity", "same", {}, [node(tensor("flip"))]),
            layer("Dense", "d", {"units": 2}, [node(tensor("same"))]),
            layer("SpatialDropout2D", "drop", {"rate": 0.5}, [node(tensor("d"))]),
        ],
        ["x", 0, 0],
        [["d", 0, 0], ["drop", 0, 0], ["same", 0, 0]],
    )
    result = translate_model_config(config)
    assert result.problems == []
    assert list(layers_by_name(result)) == ["x", "d"]
    assert layers_by_name(result)["d"]["inbound_nodes"] == [[["x", 0, 0, {}]]]
    assert result.model_config["config"]["output_layers"] == [["d", 0, 0], ["d", 0, 0], ["x", 0, 0]]
    assert any("removed: it is the identity at inference" in note and "'flip'" in note for note in result.notes)


def test_a_shared_layer_is_rewritten_for_each_of_its_calls():
    a, b = input_layer("a"), input_layer("b")
    sub = layer("Subtract", "sub", {}, [node(tensor("a"), tensor("b")), node(tensor("b"), tensor("a"))])
    after = layer("Add", "both", {}, [node(tensor("sub", 0), tensor("sub", 1))])
    result = translate_model_config(functional([a, b, sub, after], [["a", 0, 0], ["b", 0, 0]], ["both", 0, 0]))
    assert result.problems == []
    by_name = layers_by_name(result)
    assert by_name["sub_negated"]["config"]["scale"] == -1.0
    assert by_name["sub_negated"]["inbound_nodes"] == [[["b", 0, 0, {}]], [["a", 0, 0, {}]]]
    assert by_name["sub"]["class_name"] == "Add"
    assert by_name["sub"]["inbound_nodes"] == [
        [["a", 0, 0, {}], ["sub_negated", 0, 0, {}]],
        [["b", 0, 0, {}], ["sub_negated", 1, 0, {}]],
    ]
    assert by_name["both"]["inbound_nodes"] == [[["sub", 0, 0, {}], ["sub", 1, 0, {}]]]


def test_grouped_convolution_weights_are_relaid_out_for_depthwise():
    kernel = np.arange(3 * 3 * 1 * 4, dtype="float32").reshape(3, 3, 1, 4)
    bias = np.array([1, 2, 3, 4], dtype="float32")
    weights = [Weight("other/kernel", np.ones(2, "float32")), Weight("conv/kernel", kernel), Weight("conv/bias", bias)]
    conv = layer(
        "Conv2D",
        "conv",
        {"filters": 4, "kernel_size": [3, 3], "groups": 2, "kernel_initializer": "glorot_uniform"},
        [node(tensor("x"))],
    )
    result = translate_model_config(functional([input_layer(), conv], ["x", 0, 0], ["conv", 0, 0]), weights)
    assert result.problems == []
    cfg = layers_by_name(result)["conv"]
    assert cfg["class_name"] == "DepthwiseConv2D"
    assert cfg["config"]["depth_multiplier"] == 2 and "filters" not in cfg["config"] and "groups" not in cfg["config"]
    assert [w.name for w in result.weights] == ["other/kernel", "conv/depthwise_kernel", "conv/bias"]
    depthwise = result.weights[1].array
    assert depthwise.shape == (3, 3, 2, 2)
    assert depthwise[1, 2, 1, 0] == kernel[1, 2, 0, 2]  # output channel 2 = group 1, multiplier 0


def test_rewrites_that_need_weights_say_so_without_them():
    norm = layer("Normalization", "norm", {"axis": -1, "mean": None, "variance": None}, [node(tensor("x"))])
    result = translate_model_config(functional([input_layer(), norm], ["x", 0, 0], ["norm", 0, 0]))
    assert result.problems == [
        "layer 'norm' (Normalization): needs its weights to be rewritten for TF.js, and none were given"
    ]
    assert result.needs_only_weights
    lam = layer("Lambda", "lam", {}, [node(tensor("norm"))])
    assert not translate_model_config(
        functional([input_layer(), norm, lam], ["x", 0, 0], ["lam", 0, 0])
    ).needs_only_weights


def test_normalization_folds_its_statistics_into_rescaling_and_drops_its_weights():
    weights = [Weight("norm/mean", np.array([1.0, 2.0, 3.0, 4.0], "float32")),
               Weight("norm/variance", np.array([4.0, 1.0, 0.0, 0.25], "float32")),
               Weight("norm/count", np.array(10, "int64"))]  # fmt: skip
    norm = layer("Normalization", "norm", {"axis": -1, "mean": None, "variance": None}, [node(tensor("x"))])
    result = translate_model_config(functional([input_layer(), norm], ["x", 0, 0], ["norm", 0, 0]), weights)
    assert result.problems == [] and result.weights == []
    cfg = layers_by_name(result)["norm"]["config"]
    assert np.allclose(cfg["scale"], [0.5, 1.0, 1e7, 2.0])  # a zero variance divides by Keras's epsilon (1e-7)
    assert np.allclose(cfg["offset"], [-0.5, -2.0, -3e7, -8.0])


def test_problems_are_one_line_per_reason_and_ops_are_named_as_ops():
    lambdas = [layer("Lambda", f"lam{i}", {}, [node(tensor("x"))]) for i in range(5)]
    total = op("Sum", "sum", [tensor("lam0")])
    result = translate_model_config(functional([input_layer(), *lambdas, total], ["x", 0, 0], ["sum", 0, 0]))
    assert result.problems == [
        "layer 'lam0' (Lambda), layer 'lam1' (Lambda), layer 'lam2' (Lambda) and 2 more: layer class 'Lambda' does not "
        'exist in TF.js 4.22: replace the Lambda with built-in layers (or use format = "graph")',
        "op 'sum' (keras.ops.sum): has no TF.js layers equivalent",
    ]
    assert result.reason == result.problems[0] + " (and 1 more reason)"
    assert translate_model_config(functional([input_layer()], ["x", 0, 0], ["x", 0, 0])).reason is None


def test_ops_with_scalars_become_rescaling_and_activations():
    layers = [
        input_layer(),
        op("Multiply", "multiply", [tensor("x"), 0.5]),
        op("Subtract", "subtract", [2.0, tensor("multiply")]),
        op("Relu", "relu", [tensor("subtract")], module="keras.src.ops.nn"),
    ]
    result = translate_model_config(functional(layers, ["x", 0, 0], ["relu", 0, 0]))
    assert result.problems == []
    by_name = layers_by_name(result)
    assert by_name["multiply"]["config"] | {} == {"name": "multiply", "dtype": "float32", "scale": 0.5, "offset": 0.0}
    assert (by_name["subtract"]["config"]["scale"], by_name["subtract"]["config"]["offset"]) == (-1.0, 2.0)
    assert by_name["relu"] == {"class_name": "Activation", "config": {"name": "relu", "dtype": "float32", "activation": "relu"},
                               "name": "relu", "inbound_nodes": [[["subtract", 0, 0, {}]]]}  # fmt: skip


def test_settings_tfjs_ignores_and_layers_it_cannot_run_are_refused():
    layers = [
        input_layer(),
        layer(
            "Conv2DTranspose",
            "up",
            {"filters": 2, "kernel_size": 2, "output_padding": [1, 1], "dilation_rate": [1, 1]},
            [node(tensor("x"))],
        ),
        layer(
            "GlobalAveragePooling1D", "pool", {"data_format": "channels_first", "keepdims": False}, [node(tensor("up"))]
        ),
        layer("Resizing", "resize", {"height": 2, "width": 2}, [node(tensor("pool"))]),
    ]
    problems = translate_model_config(functional(layers, ["x", 0, 0], ["resize", 0, 0])).problems
    assert problems == [
        "layer 'up' (Conv2DTranspose): uses output_padding=[1, 1], which TF.js's Conv2DTranspose ignores (it has no output padding)",
        "layer 'pool' (GlobalAveragePooling1D): uses data_format='channels_first', which TF.js's GlobalAveragePooling1D "
        "ignores (it always pools over axis 1)",
        "layer 'resize' (Resizing): TF.js 4.22's Resizing fails when run in a loaded model (\"x must be rank 3 or 4, but "
        'got rank 1"); resize the images before the model, or use format = "graph"',
    ]


def test_keepdims_pooling_becomes_pooling_and_reshape_with_the_channel_count():
    pool = layer("GlobalAveragePooling2D", "gap", {"data_format": "channels_last", "keepdims": True},
                 [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 7, 7, 16], "keras_history": ["x", 0, 0]}}], "kwargs": {}}])  # fmt: skip
    after = layer("Conv2D", "conv", {"filters": 2, "kernel_size": 1}, [node(tensor("gap"))])
    result = translate_model_config(functional([input_layer(), pool, after], ["x", 0, 0], ["conv", 0, 0]))
    assert result.problems == []
    by_name = layers_by_name(result)
    assert "keepdims" not in by_name["gap"]["config"]
    assert by_name["gap_keepdims"]["config"]["target_shape"] == [1, 1, 16]
    assert by_name["conv"]["inbound_nodes"] == [[["gap_keepdims", 0, 0, {}]]]


def test_sequential_models_take_chains_and_become_functional_for_branches():
    def sequential(*layers):
        return {"class_name": "Sequential", "config": {"name": "seq", "layers": [input_layer(), *layers]}}

    chain = translate_model_config(
        sequential(layer("RandomZoom", "zoom", {}), layer("Dense", "d", {"units": 2, "activation": "hard_sigmoid"}))
    )
    assert chain.problems == []
    assert [entry["class_name"] for entry in chain.model_config["config"]["layers"]] == [
        "InputLayer",
        "Dense",
        "Rescaling",
        "ReLU",
        "Rescaling",
    ]
    branch = translate_model_config(
        sequential(layer("Activation", "act", {"activation": "hard_silu"}), layer("Dense", "d", {"units": 2}))
    )
    assert branch.problems == []
    assert branch.model_config["class_name"] == "Functional"
    by_name = layers_by_name(branch)
    assert by_name["act_times_x"]["inbound_nodes"] == [[["x", 0, 0, {}], ["act_div6", 0, 0, {}]]]
    assert by_name["d"]["inbound_nodes"] == [[["act_times_x", 0, 0, {}]]]
    assert branch.model_config["config"]["output_layers"] == [["d", 0, 0]]
    assert "layer 'seq' (Sequential): written as a functional model" in branch.notes[0]


def test_keras2_hard_sigmoid_is_tfjs_hard_sigmoid_not_the_keras3_rewrite():
    dense = layer("Dense", "d", {"units": 2, "activation": "hard_sigmoid"}, [node(tensor("x"))])
    result = translate_model_config(
        functional([input_layer(), dense], ["x", 0, 0], ["d", 0, 0]), keras_version="2.15.0"
    )
    assert result.problems == [] and result.notes == []
    assert layers_by_name(result)["d"]["config"]["activation"] == "hard_sigmoid"


def test_a_users_class_named_like_an_application_layer_is_not_rewritten():
    mine = layer("LayerScale", "scale", {"factor": 2.0}, [node(tensor("x"))])  # module keras.layers, not convnext
    weights = [Weight("scale/gamma", np.ones(4, "float32"))]
    result = translate_model_config(functional([input_layer(), mine], ["x", 0, 0], ["scale", 0, 0]), weights)
    assert result.problems == [
        "layer 'scale' (LayerScale): layer class 'LayerScale' does not exist in TF.js 4.22: rebuild that part with "
        "layers TF.js has (see the README's list)"
    ]


def test_layers_tfjs_computes_differently_are_refused():
    layers = [
        input_layer(),
        layer("UpSampling2D", "up", {"size": [2, 2], "interpolation": "bilinear"}, [node(tensor("x"))]),
        layer("Softmax", "soft", {"axis": 1}, [node(tensor("up"))]),
        layer("CategoryEncoding", "enc", {"num_tokens": 4, "output_mode": "multi_hot"}, [node(tensor("soft"))]),
    ]
    problems = translate_model_config(functional(layers, ["x", 0, 0], ["enc", 0, 0])).problems
    assert [p.split(":")[0] for p in problems] == [
        "layer 'up' (UpSampling2D)",
        "layer 'soft' (Softmax)",
        "layer 'enc' (CategoryEncoding)",
    ]
    assert "places the samples differently" in problems[0] and "only runs over the last axis" in problems[1]


def test_ops_without_an_exact_layer_say_why():
    layers = [
        input_layer(),
        op("Gelu", "gelu", [tensor("x")], module="keras.src.ops.nn")
        | {"config": {"name": "gelu", "approximate": True}},
        op("Mean", "mean", [tensor("gelu")]) | {"config": {"name": "mean", "axis": 0, "keepdims": False}},
        op("Power", "power", [tensor("mean"), 2]),
    ]
    problems = translate_model_config(functional(layers, ["x", 0, 0], ["power", 0, 0])).problems
    assert problems == [
        "op 'gelu' (keras.ops.gelu): with approximate=True has no TF.js layer a loaded model can use; use approximate=False",
        "op 'mean' (keras.ops.mean): over other axes than a global pooling's has no TF.js layer",
        "op 'power' (keras.ops.power): has no TF.js layers equivalent",
    ]


def test_channels_first_settings_tfjs_computes_differently_are_refused():
    def shaped(entry: dict, shape: list) -> dict:
        return entry | {"build_config": {"input_shape": shape}}

    layers = [
        input_layer(),
        shaped(layer("BatchNormalization", "bn", {"axis": 1}, [node(tensor("x"))]), [None, 3, 4, 4]),
        layer(
            "Conv1D", "conv", {"filters": 2, "kernel_size": 3, "data_format": "channels_first"}, [node(tensor("bn"))]
        ),
        shaped(layer("BatchNormalization", "bn_last", {"axis": 3}, [node(tensor("conv"))]), [None, 3, 4, 4]),
    ]
    problems = translate_model_config(functional(layers, ["x", 0, 0], ["bn_last", 0, 0])).problems
    assert problems == [
        "layer 'bn' (BatchNormalization): normalizes over axis 1 of a rank-4 input; TF.js applies BatchNormalization's "
        "statistics along the last axis only (use channels_last)",
        "layer 'conv' (Conv1D): uses data_format='channels_first', which TF.js's Conv1D ignores (it always convolves "
        "over axis 1)",
    ]


def test_a_keras2_sequential_keeps_its_input_shape_when_its_first_layer_is_removed():
    flip = {
        "class_name": "RandomFlip",
        "config": {"name": "flip", "batch_input_shape": [None, 4, 4, 3], "mode": "horizontal"},
    }
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 2}}
    result = translate_model_config({"class_name": "Sequential", "config": {"name": "seq", "layers": [flip, dense]}})
    assert result.problems == []
    (only,) = result.model_config["config"]["layers"]
    assert only["config"]["name"] == "d" and only["config"]["batch_input_shape"] == [None, 4, 4, 3]


def test_keras2_keepdims_pooling_traces_the_channels_or_refuses():
    def legacy(class_name: str, name: str, config: dict, source: str | None) -> dict:
        nodes = [[[source, 0, 0, {}]]] if source else []
        return {"class_name": class_name, "name": name, "config": {"name": name, **config}, "inbound_nodes": nodes}

    inp = legacy("InputLayer", "x", {"batch_input_shape": [None, 5, 5, 3]}, None)
    conv = legacy("Conv2D", "conv", {"filters": 7, "kernel_size": [3, 3]}, "x")
    bn = legacy("BatchNormalization", "bn", {"axis": [3]}, "conv")
    pool = legacy("GlobalAveragePooling2D", "gap", {"keepdims": True}, "bn")
    traced = translate_model_config(functional([inp, conv, bn, pool], [["x", 0, 0]], [["gap", 0, 0]]))
    assert traced.problems == []
    assert layers_by_name(traced)["gap_keepdims"]["config"]["target_shape"] == [1, 1, 7]
    lam = legacy("Lambda", "lam", {}, "x")
    untraced = translate_model_config(
        functional(
            [inp, lam, legacy("GlobalMaxPooling2D", "gmp", {"keepdims": True}, "lam")], [["x", 0, 0]], [["gmp", 0, 0]]
        )
    )
    assert (
        "layer 'gmp' (GlobalMaxPooling2D): uses keepdims=True on an input whose channel count the config does not record"
        in untraced.problems
    )

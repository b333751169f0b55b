"""The topology translation is a pure function of the Keras config: tested here on plain dicts, no TensorFlow."""

from __future__ import annotations

import copy

from hatch_tfjs.translate import translate_model_config


def tensor(layer: str, node: int = 0, index: int = 0) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32", "keras_history": [layer, node, index]}}


def policy(name: str = "float32") -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def layer(class_name: str, name: str, config: dict | None = None, inbound: list | None = None) -> dict:
    cfg = {"name": name, "trainable": True, "dtype": policy(), **(config or {})}
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": cfg,
        "registered_name": None,
        "build_config": {"input_shape": [None, 4]},
        "name": name,
        "inbound_nodes": inbound if inbound is not None else [],
    }


def functional(layers: list, inputs, outputs) -> dict:
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {"name": "model", "trainable": True, "layers": layers, "input_layers": inputs, "output_layers": outputs},
        "registered_name": "Functional",
    }


def input_layer(name: str = "x") -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": name, "optional": False},
        "registered_name": None,
        "name": name,
        "inbound_nodes": [],
    }


def node(*tensors, **kwargs) -> dict:
    return {"args": list(tensors) if len(tensors) == 1 else [list(tensors)], "kwargs": kwargs}


def test_input_layer_gets_batch_input_shape_and_plain_dtype():
    config = functional([input_layer()], ["x", 0, 0], ["x", 0, 0])
    result = translate_model_config(config)
    assert result.problems == []
    (inp,) = result.model_config["config"]["layers"]
    assert inp["config"] == {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "x"}


def test_single_tensor_endpoints_become_lists_of_triples():
    dense = layer("Dense", "d", {"units": 2, "activation": "relu"}, [node(tensor("x"), training=False, mask=None)])
    result = translate_model_config(functional([input_layer(), dense], ["x", 0, 0], ["d", 0, 0]))
    cfg = result.model_config["config"]
    assert cfg["input_layers"] == [["x", 0, 0]]
    assert cfg["output_layers"] == [["d", 0, 0]]
    assert cfg["layers"][1]["inbound_nodes"] == [[["x", 0, 0, {}]]]


def test_merge_layer_nodes_are_flattened_to_the_legacy_form():
    add = layer("Add", "add", {}, [node(tensor("a"), tensor("b", 1, 0))])
    config = functional([input_layer("a"), input_layer("b"), add], [["a", 0, 0], ["b", 0, 0]], [["add", 0, 0]])
    result = translate_model_config(config)
    assert result.model_config["config"]["layers"][2]["inbound_nodes"] == [[["a", 0, 0, {}], ["b", 1, 0, {}]]]


def test_keras_only_keys_are_dropped_and_dtype_policies_flattened():
    dense = layer("Dense", "d", {"units": 2, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}, "registered_name": None, "shared_object_id": 1}}, [node(tensor("x"))])
    result = translate_model_config(functional([input_layer(), dense], ["x", 0, 0], ["d", 0, 0]))
    cfg = result.model_config["config"]["layers"][1]["config"]
    assert cfg["dtype"] == "float32"
    assert cfg["kernel_initializer"] == {"class_name": "GlorotUniform", "config": {"seed": None}}
    assert "module" not in result.model_config["config"]["layers"][1]


def test_l1_and_l2_regularizers_become_l1l2():
    dense = layer(
        "Dense",
        "d",
        {"units": 2, "kernel_regularizer": {"class_name": "L2", "config": {"l2": 0.01}}, "bias_regularizer": {"class_name": "L1", "config": {"l1": 0.5}}},
        [node(tensor("x"))],
    )
    cfg = translate_model_config(functional([input_layer(), dense], ["x", 0, 0], ["d", 0, 0])).model_config["config"]["layers"][1]["config"]
    assert cfg["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}
    assert cfg["bias_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.0}}


def test_keras3_names_translated_for_tfjs():
    leaky = layer("LeakyReLU", "leaky", {"negative_slope": 0.2}, [node(tensor("x"))])
    swish = layer("Dense", "d", {"units": 2, "activation": "silu", "kernel_initializer": {"class_name": "OrthogonalInitializer", "config": {"gain": 1.0}}}, [node(tensor("leaky"))])
    pool = layer("MaxPool2D", "pool", {}, [])
    result = translate_model_config(functional([input_layer(), leaky, swish], ["x", 0, 0], ["d", 0, 0]))
    layers = result.model_config["config"]["layers"]
    assert layers[1]["config"]["alpha"] == 0.2 and "negative_slope" not in layers[1]["config"]
    assert layers[2]["config"]["activation"] == "swish"
    assert layers[2]["config"]["kernel_initializer"]["class_name"] == "Orthogonal"
    seq = {"class_name": "Sequential", "config": {"name": "s", "layers": [pool]}}
    assert translate_model_config(seq).model_config["config"]["layers"][0]["class_name"] == "MaxPooling2D"


def test_nested_sequential_references_shift_by_one_node():
    inner = {
        "module": "keras.src.models.sequential",
        "class_name": "Sequential",
        "config": {"name": "inner", "layers": [input_layer("inner_in"), layer("Dense", "d1", {"units": 4})]},
        "name": "inner",
        "inbound_nodes": [node(tensor("x"))],
    }
    after = layer("Dense", "d2", {"units": 1}, [node(tensor("inner", 0, 0))])
    result = translate_model_config(functional([input_layer(), inner, after], ["x", 0, 0], [["inner", 0, 0], ["d2", 0, 0]]))
    cfg = result.model_config["config"]
    assert cfg["layers"][2]["inbound_nodes"] == [[["inner", 1, 0, {}]]]
    assert cfg["output_layers"] == [["inner", 1, 0], ["d2", 0, 0]]
    assert cfg["layers"][1]["inbound_nodes"] == [[["x", 0, 0, {}]]]


def test_nested_functional_calls_shift_in_inbound_nodes_only():
    """Keras 3 numbers a nested Functional's calls from 0 in inbound_nodes but from 1 in output_layers; TF.js from 1."""
    inner = {
        "class_name": "Functional",
        "config": {"name": "enc", "layers": [input_layer("enc_in")], "input_layers": [["enc_in", 0, 0]], "output_layers": [["enc_in", 0, 0]]},
        "name": "enc",
        "inbound_nodes": [node(tensor("a")), node(tensor("b"))],
    }
    cat = layer("Concatenate", "cat", {}, [node(tensor("enc", 0, 0), tensor("enc", 1, 0))])
    config = functional([input_layer("a"), input_layer("b"), inner, cat], [["a", 0, 0], ["b", 0, 0]], [["cat", 0, 0], ["enc", 2, 0]])
    cfg = translate_model_config(config).model_config["config"]
    assert cfg["layers"][3]["inbound_nodes"] == [[["enc", 1, 0, {}], ["enc", 2, 0, {}]]]
    assert cfg["output_layers"] == [["cat", 0, 0], ["enc", 2, 0]]


def test_legacy_keras2_configs_are_not_renumbered():
    inner = {"class_name": "Sequential", "config": {"name": "seq", "layers": []}, "name": "seq", "inbound_nodes": [[["x", 0, 0, {}]]]}
    after = layer("Dense", "d", {"units": 1}, [[["seq", 1, 0, {}]]])
    cfg = translate_model_config(functional([input_layer(), inner, after], [["x", 0, 0]], [["d", 0, 0], ["seq", 1, 0]])).model_config["config"]
    assert cfg["layers"][2]["inbound_nodes"] == [[["seq", 1, 0, {}]]]
    assert cfg["output_layers"] == [["d", 0, 0], ["seq", 1, 0]]


def test_bidirectional_drops_backward_layer_and_forward_prefix():
    lstm = {"class_name": "LSTM", "config": {"name": "forward_lstm", "units": 3, "dtype": policy(), "go_backwards": False}}
    back = copy.deepcopy(lstm)
    back["config"].update(name="backward_lstm", go_backwards=True)
    bidi = layer("Bidirectional", "bidi", {"layer": lstm, "backward_layer": back, "merge_mode": "concat"}, [node(tensor("x"))])
    result = translate_model_config(functional([input_layer(), bidi], ["x", 0, 0], ["bidi", 0, 0]))
    assert result.problems == []
    cfg = result.model_config["config"]["layers"][1]["config"]
    assert "backward_layer" not in cfg
    assert cfg["layer"] == {"class_name": "LSTM", "config": {"name": "lstm", "units": 3, "dtype": "float32", "go_backwards": False}}


def test_every_unsupported_part_is_reported():
    layers = [
        input_layer(),
        layer("Lambda", "lam", {}, [node(tensor("x"))]),
        layer("GRU", "gru", {"units": 2, "reset_after": True}, [node(tensor("lam"))]),
        layer("Dense", "hs", {"units": 2, "activation": "exponential"}, [node(tensor("gru"))]),
        layer("Dense", "init", {"units": 2, "kernel_initializer": {"class_name": "MyInit", "config": {}}}, [node(tensor("hs"))]),
        layer("Dense", "cons", {"units": 2, "kernel_constraint": {"class_name": "MyConstraint", "config": {}}}, [node(tensor("init"))]),
        layer("ELU", "elu", {"alpha": 0.5}, [node(tensor("cons"))]),
        layer("Conv1D", "causal", {"filters": 2, "kernel_size": 2, "padding": "causal"}, [node(tensor("elu"))]),
    ]
    result = translate_model_config(functional(layers, ["x", 0, 0], ["causal", 0, 0]))
    text = "\n".join(result.problems)
    assert len(result.problems) == 7, text
    assert "layer 'lam' (Lambda): layer class 'Lambda' does not exist in TF.js 4.22" in text
    assert "layer 'gru' (GRU): uses reset_after=True" in text
    assert "layer 'hs' (Dense): activation 'exponential' is not supported by TF.js" in text
    assert "layer 'init' (Dense): kernel_initializer 'MyInit' is not an initializer TF.js knows" in text
    assert "layer 'cons' (Dense): kernel_constraint 'MyConstraint' is not a constraint TF.js knows" in text
    assert "layer 'elu' (ELU): uses alpha=0.5" in text
    assert "layer 'causal' (Conv1D): uses padding='causal'" in text


def test_dict_inputs_and_subclassed_models_are_rejected():
    dict_inputs = functional([input_layer()], {"x": ["x", 0, 0]}, ["x", 0, 0])
    assert "input_layers is a dict" in translate_model_config(dict_inputs).problems[0]
    subclassed = {"class_name": "MyModel", "config": {"name": "m"}}
    assert "is a subclassed model" in translate_model_config(subclassed).problems[0]


def test_translation_does_not_modify_its_input():
    config = functional([input_layer(), layer("Dense", "d", {"units": 2}, [node(tensor("x"))])], ["x", 0, 0], ["d", 0, 0])
    before = copy.deepcopy(config)
    translate_model_config(config)
    assert config == before

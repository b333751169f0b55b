"""Quantized and single-shard zoo models in real TF.js 4.22, checked against Keras.

For uint8/uint16 the tolerance is derived, not chosen: each weight moves by at most half its quantization step
(``scale / 2`` from the manifest), so to first order an output moves by at most ``sum_i |d out / d w_i| * scale_i / 2``;
the Jacobian comes from the Keras model itself. Beyond that bound, two exact checks pin the numerics: TF.js restores the
weights within half a step of the originals, and TF.js's outputs equal Keras's outputs for those restored weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import zoo as zoo_module
from helpers import PARITY_ATOL, assert_parity, keras_predict
from test_shards import decode_in_tfjs

from hatch_tfjs.config import ModelSpec, options_from_table
from hatch_tfjs.convert import convert_model

FLOAT16_RELATIVE = 1e-2
SECOND_ORDER_MARGIN = 1.25  # the first-order bound, widened for the curvature of the activations


def keras_variables_by_tfjs_name(model):
    """Each weight's Keras variable under the name the converter gives it (the Keras reader's naming)."""
    import keras

    from hatch_tfjs.read.keras_tf import _layer_weights

    found = {}

    def visit(container):
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                visit(layer)
                continue
            for name, variable in _layer_weights(layer, keras):
                found.setdefault(name, variable)

    visit(model)
    return found


def first_order_bound(model, inputs, variables, half_steps):
    """Per output element: sum over weights of |d output / d weight| * (scale / 2)."""
    import tensorflow as tf

    watched = [(variables[name].value, step) for name, step in half_steps.items()]
    feed = [tf.constant(x) for x in inputs]
    with tf.GradientTape(persistent=True) as tape:
        for value, _ in watched:
            tape.watch(value)
        outputs = model(feed if len(feed) > 1 else feed[0], training=False)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        flats = [tf.reshape(o, [-1]) for o in outputs]
        elements = [[flat[k] for k in range(int(flat.shape[0]))] for flat in flats]
    bounds = []
    for output, items in zip(outputs, elements):
        bound = np.zeros(len(items))
        for k, element in enumerate(items):
            grads = tape.gradient(element, [value for value, _ in watched])
            bound[k] = sum(
                float(np.sum(np.abs(np.asarray(tf.convert_to_tensor(g))) * step))  # Embedding gives IndexedSlices
                for g, (_, step) in zip(grads, watched)
                if g is not None
            )
        bounds.append(bound.reshape(tuple(output.shape)))
    del tape
    return bounds


@pytest.mark.parametrize("name", sorted(zoo_module.ZOO))
def test_quantized_and_single_shard_zoo_models_in_tfjs(name, zoo, tfjs, tmp_path):
    import keras

    case = zoo[name]
    model = keras.saving.load_model(case.keras_path, compile=False)
    variables = keras_variables_by_tfjs_name(model)
    originals = {n: np.array(v.numpy()) for n, v in variables.items()}

    # One shard holding every weight, unquantized: parity as for the default shards.
    spec = ModelSpec(name=name, source=case.keras_path, output=tmp_path / "single", root=tmp_path, shard_size=0)
    result = convert_model(spec)
    assert result.files == ["model.json", "group1-shard1of1.bin"] and result.quantized_weights == 0
    got, _ = tfjs.run(spec.output, case.inputs)
    assert_parity(got, case.expected)

    for dtype in ("float16", "uint8", "uint16"):
        spec = ModelSpec(name=name, source=case.keras_path, output=tmp_path / dtype, root=tmp_path, options=options_from_table({"quantize": dtype}, "layers"))
        result = convert_model(spec)
        manifest = json.loads((spec.output / "model.json").read_text())["weightsManifest"][0]["weights"]
        quantized = {e["name"]: e["quantization"] for e in manifest if "quantization" in e}
        floats = {e["name"] for e in manifest if e["dtype"] == "float32" and np.prod(e["shape"]) > 0}
        assert set(quantized) == floats and result.quantized_weights == len(floats) > 0
        assert all(e["dtype"] == "float32" for e in manifest if e["name"] in quantized)
        assert result.weight_bytes < result.weight_bytes_before

        # 1. TF.js restores every weight within half a step of the original, and the largest error is the one reported.
        restored = decode_in_tfjs(spec.output)
        errors = {}
        for weight, quantization in quantized.items():
            error = np.abs(restored[weight].astype(np.float64) - originals[weight].astype(np.float64))
            if dtype != "float16":
                assert error.max() <= quantization["scale"] / 2 + np.abs(originals[weight]).max() * 2.0**-24, weight
            errors[weight] = float(error.max())
        assert result.max_abs_error == max(errors.values())
        assert errors[result.max_error_weight] == result.max_abs_error

        # 2. TF.js computes exactly what Keras computes with the restored weights.
        for weight in quantized:
            variables[weight].assign(restored[weight])
        try:
            expected_restored = keras_predict(model, case.inputs)
            half_steps = {w: q["scale"] / 2 for w, q in quantized.items() if "scale" in q}
            bounds = first_order_bound(model, case.inputs, variables, half_steps) if half_steps else None
        finally:
            for weight in quantized:
                variables[weight].assign(originals[weight])
        got, _ = tfjs.run(spec.output, case.inputs)
        assert_parity(got, expected_restored)

        # 3. Against the original Keras model: float16 within 1e-2 relative, uint8/uint16 within the bound their scale implies.
        for index, (g, e) in enumerate(zip(got, case.expected)):
            diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            if dtype == "float16":
                assert diff.max() <= FLOAT16_RELATIVE * np.abs(e).max(), f"{dtype} output {index}: {diff.max():.3g}"
            else:
                assert bounds is not None
                # The bound is taken at the restored weights; the same first-order argument holds from either end.
                limit = bounds[index] * SECOND_ORDER_MARGIN + PARITY_ATOL
                worst = int(np.argmax(diff - limit))
                assert np.all(diff <= limit), (
                    f"{dtype} output {index}: |diff| {diff.flat[worst]:.3g} > bound {limit.flat[worst]:.3g}"
                )

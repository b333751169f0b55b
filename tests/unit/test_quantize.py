"""Quantizers against hand-computed values, and the rules that pick each weight's dtype."""

from __future__ import annotations

import numpy as np
import pytest

from hatch_tfjs.options import QuantizationOptions
from hatch_tfjs.write.quantize import (
    CHUNK_ELEMENTS,
    QuantizationError,
    QuantizationPlan,
    affine_range,
    dequantize,
    quantize_array,
)

# --- affine uint8 / uint16 ---------------------------------------------------------------------------------------------


def test_reference_example_uint8():
    result = quantize_array(np.array([0, -0.1, 1.2], dtype=np.float32), "uint8")
    assert result.data.tolist() == [20, 0, 255]
    assert result.data.dtype == np.dtype("<u1")
    assert result.quantization == {
        "dtype": "uint8",
        "min": -0.10196078817049663,
        "scale": 0.0050980394085248315,
        "original_dtype": "float32",
    }


def test_zero_point_is_nudged_so_zero_is_exact():
    # Hand computation for [0, -0.1, 1.2]: scale = (1.2f - -0.1f) / 255; -min/scale = 19.6 -> zero point 20.
    lo, hi = float(np.float32(-0.1)), float(np.float32(1.2))
    scale = (hi - lo) / 255
    assert round(-lo / scale) == 20
    nudged_min, nudged_max, got_scale = affine_range(lo, hi, "uint8")
    assert got_scale == scale
    assert nudged_min == -20 * scale
    assert nudged_max == 255 * scale + nudged_min
    restored = dequantize(np.array([20], dtype=np.uint8), {"dtype": "uint8", "min": nudged_min, "scale": scale})
    assert restored[0] == 0.0


def test_all_positive_range_is_not_nudged_and_rounds_half_to_even():
    # min 1, max 256: scale exactly 1, q = x - 1; 2.5 -> 1.5 -> 2 and 3.5 -> 2.5 -> 2 (half to even).
    data = np.array([1, 2.5, 3.5, 100.25, 256], dtype=np.float32)
    result = quantize_array(data, "uint8")
    assert result.quantization["min"] == 1.0 and result.quantization["scale"] == 1.0
    assert result.data.tolist() == [0, 2, 2, 99, 255]
    assert result.max_abs_error == 0.5


def test_all_negative_range_is_not_nudged():
    # min -256, max -1: scale 1, q = x + 256; -128.5 -> 127.5 -> 128, -129.5 -> 126.5 -> 126.
    data = np.array([-256, -128.5, -129.5, -1], dtype=np.float32)
    result = quantize_array(data, "uint8")
    assert result.quantization["min"] == -256.0 and result.quantization["scale"] == 1.0
    assert result.data.tolist() == [0, 128, 126, 255]


def test_range_holding_zero_at_an_edge():
    # min 0: the zero point is 0 and min stays 0 (written as 0.0, not -0.0).
    result = quantize_array(np.array([0, 0.5, 1.5, 2.5, 255], dtype=np.float32), "uint8")
    assert result.data.tolist() == [0, 0, 2, 2, 255]
    assert result.quantization["min"] == 0.0 and str(result.quantization["min"]) == "0.0"
    assert result.quantization["scale"] == 1.0


def test_uint16_hand_computed():
    # min 0, max 65535: scale 1; 1000.5 -> 1000 (even), 1001.5 -> 1002.
    result = quantize_array(np.array([0, 1000.5, 1001.5, 65535], dtype=np.float32), "uint16")
    assert result.data.dtype == np.dtype("<u2")
    assert result.data.tolist() == [0, 1000, 1002, 65535]
    assert result.quantization == {"dtype": "uint16", "min": 0.0, "scale": 1.0, "original_dtype": "float32"}


def test_uint16_reference_example_scale():
    result = quantize_array(np.array([0, -0.1, 1.2], dtype=np.float32), "uint16")
    scale = (float(np.float32(1.2)) - float(np.float32(-0.1))) / 65535
    zero_point = round(float(np.float32(0.1)) / scale)
    assert result.quantization["scale"] == scale
    assert result.quantization["min"] == -zero_point * scale
    assert result.data.tolist() == [zero_point, 0, 65535]


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("value", [0.0, 0.5, -3.25])
def test_all_equal_data(dtype, value):
    result = quantize_array(np.full((2, 3), value, dtype=np.float32), dtype)
    assert result.data.tolist() == [0] * 6
    assert result.quantization == {"dtype": dtype, "min": value, "scale": 1.0, "original_dtype": "float32"}
    assert result.max_abs_error == 0.0
    assert dequantize(result.data, result.quantization).tolist() == [value] * 6


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_error_is_within_half_a_step(dtype):
    data = np.random.default_rng(0).normal(0.2, 1.5, size=5000).astype(np.float32)
    result = quantize_array(data, dtype)
    restored = dequantize(result.data, result.quantization)
    error = np.abs(restored.astype(np.float64) - data.astype(np.float64))
    # Half a step, plus the float32 rounding TF.js applies when it stores q * scale + min.
    bound = result.quantization["scale"] / 2 + np.abs(data).astype(np.float64) * np.finfo(np.float32).eps
    assert np.all(error <= bound)
    assert result.max_abs_error == pytest.approx(float(error.max()), rel=0, abs=0)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_chunked_work_equals_one_pass(dtype):
    """A tensor bigger than one chunk gives exactly what quantizing its values in one go gives."""
    data = np.random.default_rng(1).uniform(-2, 3, size=CHUNK_ELEMENTS * 2 + 17).astype(np.float32)
    result = quantize_array(data.reshape(-1, 1), dtype)
    if dtype == "float16":
        expected = data.astype(np.float16)
    else:
        q = result.quantization
        qmax = 255 if dtype == "uint8" else 65535
        x = np.clip(data.astype(np.float64), q["min"], qmax * q["scale"] + q["min"])
        expected = np.rint((x - q["min"]) / q["scale"]).astype(result.data.dtype)
    assert np.array_equal(result.data, expected)


def test_float64_source_is_quantized_as_the_float32_tf_js_would_hold():
    data64 = np.array([0.1, 0.2, 0.7], dtype=np.float64)
    assert quantize_array(data64, "uint8").quantization == quantize_array(data64.astype(np.float32), "uint8").quantization


# --- float16 ----------------------------------------------------------------------------------------------------------


def test_float16_is_an_ieee_cast():
    # 1/3 -> 0.333251953125; between 2048 and 4096 float16 steps by 2: 2049 ties to 2048 (even), 2051 to 2052.
    data = np.array([1 / 3, 2049, 2051, -0.0, 65504, 6e-8], dtype=np.float32)
    result = quantize_array(data, "float16")
    assert result.quantization == {"dtype": "float16", "original_dtype": "float32"}
    assert result.data.dtype == np.dtype("<f2")
    assert result.data.astype(np.float64).tolist()[:5] == [0.333251953125, 2048.0, 2052.0, -0.0, 65504.0]
    assert result.data[5] == np.float16(5.960464477539063e-08)  # the smallest subnormal
    assert result.max_abs_error == 1.0


def test_float16_overflow_is_rejected():
    with pytest.raises(QuantizationError) as info:
        quantize_array(np.array([1.0, -70000.0], dtype=np.float32), "float16", name="dense/kernel")
    assert str(info.value) == (
        "weight 'dense/kernel' holds values up to 70000 in magnitude, beyond float16's range (+-65504); "
        "quantize it as uint16 or uint8 instead, or leave it out of quantize"
    )


# --- NaN / infinity ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
@pytest.mark.parametrize(
    ("values", "what"),
    [([0.0, np.nan, 1.0], "NaN values (1 of 3)"), ([np.inf, 0.0, -np.inf], "infinite values (2 of 3)"),
     ([np.nan, np.inf, 2.0], "NaN and infinite values (2 of 3)")],
)
def test_nan_and_infinity_are_rejected(dtype, values, what):
    with pytest.raises(QuantizationError) as info:
        quantize_array(np.array(values, dtype=np.float32), dtype, name="bn/gamma")
    assert str(info.value) == (
        f"weight 'bn/gamma' holds {what}, which cannot be quantized to {dtype}; "
        "retrain or repair the model, or leave this weight out of quantize"
    )


# --- which weight gets which dtype ------------------------------------------------------------------------------------

NAMES = ["conv/kernel", "conv/bias", "dense/kernel", "dense/bias", "lstm/lstm_cell/kernel"]


def test_first_match_wins_in_table_order():
    plan = QuantizationPlan.from_option({"uint8": ["*/kernel"], "float16": ["*"]})
    assert [plan.dtype_for(n) for n in NAMES] == ["uint8", "float16", "uint8", "float16", "uint8"]
    plan.check()  # the catch-all still decides the biases: no problem


def test_star_matches_slashes_and_patterns_are_case_sensitive():
    plan = QuantizationPlan.from_option({"uint16": ["lstm*kernel"], "uint8": ["Dense/*"]})
    assert plan.dtype_for("lstm/lstm_cell/kernel") == "uint16"
    assert plan.dtype_for("dense/kernel") is None


def test_one_dtype_for_every_float_weight():
    plan = QuantizationPlan.from_option("float16")
    assert [plan.dtype_for(n) for n in NAMES] == ["float16"] * 5
    assert plan.dtype_for("embedding/counter", is_float=False) is None
    plan.check()


def test_pattern_matching_no_weight_is_an_error():
    plan = QuantizationPlan.from_option(
        {"uint8": ["*/kernal"]}, key="tool.hatch.build.hooks.tfjs.models.clf.quantize", subject="model 'clf' (models/clf.keras)"
    )
    for name in NAMES[:2]:
        plan.dtype_for(name)
    with pytest.raises(QuantizationError) as info:
        plan.check()
    assert str(info.value) == (
        "model 'clf' (models/clf.keras): uint8 pattern '*/kernal' matches no weight; the model's float weights are "
        "'conv/kernel', 'conv/bias' (patterns are shell-style and `*` also matches `/`, e.g. \"*/kernel\") "
        "(set by tool.hatch.build.hooks.tfjs.models.clf.quantize in pyproject.toml)"
    )


def test_pattern_matching_only_non_float_weights_is_an_error():
    plan = QuantizationPlan.from_option({"uint8": ["lookup/*"]}, subject="model 'm' (m.keras)")
    plan.dtype_for("lookup/table", is_float=False)
    assert plan.dtype_for("dense/kernel") is None
    with pytest.raises(QuantizationError, match=r"uint8 pattern 'lookup/\*' matches no float weight, only 'lookup/table', which is not float"):
        plan.check()


def test_weight_matched_by_two_dtypes_is_an_error():
    """A later pattern of another dtype that only matches weights an earlier one took would be silently ignored."""
    plan = QuantizationPlan.from_option({"uint8": ["*/kernel"], "float16": ["dense/kernel"]}, subject="model 'm' (m.keras)")
    for name in NAMES:
        plan.dtype_for(name)
    with pytest.raises(QuantizationError) as info:
        plan.check()
    assert str(info.value) == (
        "model 'm' (m.keras): float16 pattern 'dense/kernel': every weight it matches ('dense/kernel') is also matched "
        "by the earlier uint8 pattern '*/kernel', and the first match wins, so a weight would be matched by two dtypes; "
        "list the float16 pattern first or narrow '*/kernel' (set by quantize in pyproject.toml)"
    )
    # Listing the specific pattern first is the fix.
    fixed = QuantizationPlan.from_option({"float16": ["dense/kernel"], "uint8": ["*/kernel"]})
    assert [fixed.dtype_for(n) for n in NAMES] == [ "uint8", None, "float16", None, "uint8"]
    fixed.check()


def test_redundant_pattern_of_the_same_dtype_is_fine():
    plan = QuantizationPlan.from_option({"uint8": ["*/kernel", "dense/kernel"]})
    for name in NAMES:
        plan.dtype_for(name)
    plan.check()


def test_several_problems_are_reported_together():
    plan = QuantizationPlan.from_option({"uint8": ["nope/*"], "uint16": ["*/kernel"], "float16": ["conv/kernel", "zzz"]})
    for name in NAMES:
        plan.dtype_for(name)
    with pytest.raises(QuantizationError) as info:
        plan.check()
    message = str(info.value)
    assert "uint8 pattern 'nope/*' matches no weight" in message
    assert "float16 pattern 'conv/kernel': every weight it matches ('conv/kernel') is also matched by the earlier uint16 pattern '*/kernel'" in message
    assert "float16 pattern 'zzz' matches no weight" in message
    assert message.count("\n    ") == 3


def test_plan_from_the_config_form_keeps_order_and_origin():
    option = QuantizationOptions((("float16", ("a/*",)), ("uint8", ("*",))))
    plan = QuantizationPlan.from_option(option, origin="tool.x.quantize in pyproject.toml")
    assert plan.rules == (("float16", ("a/*",)), ("uint8", ("*",)))
    assert plan.origin == "tool.x.quantize in pyproject.toml"
    assert QuantizationPlan.from_option(QuantizationOptions.one_dtype("uint16")).everything
    assert QuantizationPlan.from_option(None) is None and QuantizationPlan.from_option(False) is None

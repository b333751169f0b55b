"""userDefinedMetadata reaches TF.js, and every new option survives the trip to the conversion worker process."""

from __future__ import annotations

import json

import pytest

from hatch_tfjs.config import load_settings
from hatch_tfjs.convert import ConversionResult
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.describe import human_bytes
from hatch_tfjs.hook import describe_result
from hatch_tfjs.workers import convert_in_workers

TABLE = "tool.hatch.build.hooks.tfjs"


@pytest.fixture
def mlp_project(tmp_path, zoo):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "clf.keras").write_bytes(zoo["mlp"].keras_path.read_bytes())
    (tmp_path / "models" / "labels.json").write_text(json.dumps({"labels": ["setosa", "versicolor", "virginica"]}))
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    return tmp_path


def test_options_reach_the_worker_and_metadata_reaches_tfjs(mlp_project, zoo, tfjs):
    config = {
        "quantize": "uint16",  # hook-level default, overridden below
        "models": {
            "clf": {
                "source": "models/clf.keras",
                "format": "layers",  # a layers model's weights and build line (auto makes a graph model)
                "quantize": {"uint8": ["*/kernel"], "float16": ["*"]},
                "shard-size": 0,
                "metadata": {"input-size": 8, "normalise": {"mean": [0.5, 0.25]}, "note": "héllo"},
                "metadata-file": "models/labels.json",
            }
        },
    }
    settings = load_settings(mlp_project, config, wheel_packages=["src/pkg"])
    (result,) = convert_in_workers(settings.models, jobs=1)  # a real worker process: the spec travels as JSON
    output = mlp_project / "src" / "pkg" / "web_models" / "clf"

    document = json.loads((output / "model.json").read_text())
    assert list(document)[:4] == ["format", "generatedBy", "convertedBy", "userDefinedMetadata"]
    expected = {"labels": ["setosa", "versicolor", "virginica"], "input-size": 8, "normalise": {"mean": [0.5, 0.25]}, "note": "héllo"}
    assert document["userDefinedMetadata"] == expected
    weights = document["weightsManifest"][0]["weights"]
    assert {w["name"]: w["quantization"]["dtype"] for w in weights} == {
        "hidden/kernel": "uint8", "hidden/bias": "float16", "mid/kernel": "uint8", "mid/bias": "float16",
        "probs/kernel": "uint8", "probs/bias": "float16",
    }
    assert document["weightsManifest"][0]["paths"] == ["group1-shard1of1.bin"]

    got, answer = tfjs.run(output, zoo["mlp"].inputs)
    assert answer["metadata"] == expected  # model.getUserDefinedMetadata()
    assert result.quantized_weights == 6 and result.weight_bytes < result.weight_bytes_before
    assert result.weight_bytes_before == 4 * (8 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3)
    assert result.weight_bytes == (8 * 16 + 16 * 8 + 8 * 3) + 2 * (16 + 8 + 3)
    message = describe_result(result)
    assert message.startswith("tfjs: clf: layers model -> src/pkg/web_models/clf/ (1 shard, ")
    assert (
        f"; quantized 6 of 6 weights: weights {human_bytes(result.weight_bytes_before)} -> {human_bytes(result.weight_bytes)}, "
        f"largest absolute weight error {result.max_abs_error:.3g} (in {result.max_error_weight})"
    ) in message


def test_a_pattern_matching_no_weight_fails_the_model_cleanly(mlp_project):
    config = {"models": {"clf": {"source": "models/clf.keras", "quantize": {"uint8": ["*/kernal"]}}}}
    settings = load_settings(mlp_project, config, wheel_packages=["src/pkg"])
    with pytest.raises(HatchTfjsError) as info:
        convert_in_workers(settings.models, jobs=1)
    message = str(info.value)
    assert message.startswith("model 'clf' (models/clf.keras): uint8 pattern '*/kernal' matches no weight; the model's float weights are 'hidden/kernel', ")
    assert message.endswith(f"(set by {TABLE}.models.clf.quantize in pyproject.toml)")
    assert "Traceback" not in message
    assert not (mlp_project / "src" / "pkg" / "web_models" / "clf").exists()


def test_build_message_without_quantization():
    result = ConversionResult(name="m", output="pkg/web_models/m", format="layers", files=["model.json", "group1-shard1of2.bin", "group1-shard2of2.bin"],
                              total_bytes=5 * 1024 * 1024, weight_count=4, seconds=1.25, weight_bytes=5 * 1024 * 1024,
                              weight_bytes_before=5 * 1024 * 1024)
    assert describe_result(result) == "tfjs: m: layers model -> pkg/web_models/m/ (2 shards, 5.0 MiB, 1.2 s)"

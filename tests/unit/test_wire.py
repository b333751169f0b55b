"""The plain form a worker receives is generated from the option declarations: every option a spec holds travels as
its TOML value and is parsed again, by its declared parser, on the other side (config/wire.py)."""

from __future__ import annotations

import json

import pytest

from hatch_tfjs.config import OPTIONS, load_settings, spec_from_json, spec_to_json
from hatch_tfjs.config.wire import stamped_options
from hatch_tfjs.errors import InternalError

# A value other than the default for every option a spec holds (metadata-file is merged into metadata).
NOT_DEFAULT = {
    "format": "graph",
    "shard-size": 1024,
    "quantize": {"uint8": ["*/kernel"], "float16": ["*"]},
    "metadata": {"labels": ["a", "b"]},
    "reader": "keras",
    "custom-modules": ["app.layers"],
    "signature": "serve_fn",
    "tags": ["serve", "gpu"],
    "strip-debug-ops": False,
    "control-flow-v2": True,
    "structured-outputs": True,
}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "m.keras").write_bytes(b"PK")
    return tmp_path


def test_every_declared_option_travels_to_the_worker_and_back(project):
    assert {option.key for option in OPTIONS if option.value is not None} == set(NOT_DEFAULT)  # a new option: add it
    for model in ({"source": "m.keras"}, {"source": "m.keras", "format": "layers"}, {"source": "m.keras", **NOT_DEFAULT}):
        (spec,) = load_settings(project, {"models": {"m": model}}, wheel_packages=["pkg"]).models
        plain = json.loads(json.dumps(spec_to_json(spec)))  # what crosses the process boundary
        assert spec_from_json(plain) == spec
    assert plain["options"] == NOT_DEFAULT  # TOML's own spellings and values


def test_the_stamp_records_the_options_that_shape_the_output_only(project):
    (layers,) = load_settings(project, {"models": {"m": {"source": "m.keras", "format": "layers"}}},
                              wheel_packages=["pkg"]).models
    assert stamped_options(layers) == {}  # defaults: nothing (format and shard-size are stamped beside them)
    (spec,) = load_settings(project, {"models": {"m": {"source": "m.keras", **NOT_DEFAULT}}}, wheel_packages=["pkg"]).models
    assert stamped_options(spec) == {key: value for key, value in NOT_DEFAULT.items() if key not in ("format", "shard-size")}


def test_a_spec_the_parsers_refuse_is_an_internal_error_not_a_silent_default(project):
    (spec,) = load_settings(project, {"models": {"m": {"source": "m.keras"}}}, wheel_packages=["pkg"]).models
    plain = spec_to_json(spec)
    plain["options"]["tags"] = "serve"
    with pytest.raises(InternalError, match=r"^model 'm' reached the worker with invalid options: tags: must be a non-empty array"):
        spec_from_json(plain)
    plain["options"] = {"quantise": "uint8"}
    with pytest.raises(InternalError, match="quantise"):
        spec_from_json(plain)

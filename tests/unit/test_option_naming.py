"""Messages name an option where the model was declared: its TOML path in the build-wide table or the wheel target's
table, or its ``hatch-tfjs convert`` flag (option_naming.py), decided by the configuration and carried by the spec
(to a worker too)."""

from __future__ import annotations

from hatch_tfjs.cli import NAMING
from hatch_tfjs.config import load_settings, spec_from_json, spec_to_json
from hatch_tfjs.errors import UnsupportedModelError
from hatch_tfjs.option_naming import OptionNaming

WHEEL = "tool.hatch.build.targets.wheel.hooks.tfjs"


def test_each_table_and_the_command_line_name_options_their_own_way():
    build, wheel = OptionNaming(), OptionNaming(WHEEL)
    assert build.key("iris", "tags") == "tool.hatch.build.hooks.tfjs.models.iris.tags"
    assert wheel.key("iris", "tags") == f"{WHEEL}.models.iris.tags"
    assert NAMING.key("iris", "source") == "SOURCE" and NAMING.key("iris", "quantize") == "--quantize"
    assert build.set_on_model("iris", "format", '"graph"') == 'set format = "graph" on [tool.hatch.build.hooks.tfjs.models.iris]'
    assert wheel.set_on_model("iris", "reader", '"keras"') == f'set reader = "keras" on [{WHEEL}.models.iris]'
    assert NAMING.set_on_model("iris", "format", '"graph"') == "pass --format graph"
    assert (build.none_value("quantize"), NAMING.none_value("quantize")) == ("false", "leave out --quantize")
    assert build.located("models.iris.quantize") == "tool.hatch.build.hooks.tfjs.models.iris.quantize in pyproject.toml"
    assert NAMING.located("models.iris.quantize.uint8") == "--quantize" and NAMING.located("models.iris") == "arguments"
    assert (build.hook_table, wheel.hook_table) == ("[tool.hatch.build.hooks.tfjs]", f"[{WHEEL}]")


def test_a_model_of_the_wheel_table_carries_its_table_to_the_worker(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"PK")
    settings = load_settings(tmp_path, {"models": {"m": {"source": "m.keras", "quantize": "uint8"}}}, table=WHEEL,
                             wheel_packages=["pkg"])
    (spec,) = settings.models
    assert spec.naming == OptionNaming(WHEEL, source="pyproject.toml")
    assert spec.origins["quantize"] == f"{WHEEL}.models.m.quantize in pyproject.toml"
    assert spec_from_json(spec_to_json(spec)) == spec  # the worker words its messages the same way
    refused = UnsupportedModelError("m", "m.keras", ["layer 'x' (Foo): not a TF.js layer"], naming=spec.naming)
    assert str(refused).endswith(f'(or ship it as a TF.js graph model: set format = "graph" on [{WHEEL}.models.m])')
    # the build-wide table: the words the tests of other modules assert, unchanged
    default = UnsupportedModelError("m", "m.keras", ["layer 'x' (Foo): not a TF.js layer"])
    assert str(default).endswith('set format = "graph" on [tool.hatch.build.hooks.tfjs.models.m])')

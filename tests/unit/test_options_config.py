"""Validation of the quantize, shard-size, metadata and metadata-file options: exact messages with full TOML paths."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from hatch_tfjs.config import load_settings, spec_from_json, spec_to_json
from hatch_tfjs.config.wire import stamped_options
from hatch_tfjs.errors import ConfigError
from hatch_tfjs.metadata_json import DEEP, MAX_BYTES
from hatch_tfjs.options import QuantizationOptions

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

TABLE = "tool.hatch.build.hooks.tfjs"


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


KEY = f"{TABLE}.models.clf"


@pytest.fixture
def stub_project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "clf.keras").write_bytes(b"PK")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "models" / "labels.json").write_text('{"labels": ["cat", "dog"], "mean": [0.5, 0.4]}')
    return tmp_path


def settings(root: Path, model: dict | None = None, **hook):
    config = {**hook, "models": {"clf": {"source": "models/clf.keras", **(model or {})}}}
    return load_settings(root, config, wheel_packages=["src/pkg"])


def problems(root: Path, model: dict | None = None, **hook) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings(root, model, **hook)
    return info.value.problems


# --- quantize ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "uint8", "uint16"])
def test_quantize_one_dtype(stub_project, dtype):
    spec = settings(stub_project, {"quantize": dtype}).models[0]
    assert spec.options.quantization == QuantizationOptions(((dtype, ("*",)),), everything=True)
    assert spec.origins["quantize"] == f"{KEY}.quantize in pyproject.toml"  # for messages, apart from the value


def test_quantize_patterns_keep_the_order_written_in_toml(stub_project):
    document = tomllib.loads('quantize = { uint8 = ["*/kernel"], float16 = ["*"], uint16 = ["a/*", "b/*"] }')
    spec = settings(stub_project, document).models[0]
    assert spec.options.quantization.rules == (("uint8", ("*/kernel",)), ("float16", ("*",)), ("uint16", ("a/*", "b/*")))
    again = spec_from_json(json.loads(json.dumps(spec_to_json(spec))))  # what the worker process receives
    assert again == spec and again.options.quantization.rules[0] == ("uint8", ("*/kernel",))


def test_quantize_default_and_per_model_override(stub_project):
    base = {"source": "models/clf.keras"}
    config = {"quantize": "uint8", "models": {"a": dict(base, output="src/pkg/a"), "b": dict(base, output="src/pkg/b", quantize=False)}}
    a, b = load_settings(stub_project, config, wheel_packages=["src/pkg"]).models
    assert a.options.quantization == QuantizationOptions.one_dtype("uint8")
    assert a.origins["quantize"] == f"{TABLE}.quantize in pyproject.toml"
    assert b.options.quantization is None and "quantize" not in stamped_options(b)


def test_moving_an_option_between_tables_changes_no_stamp(stub_project):
    """Where an option is set is kept for messages only: the same value on the hook table or on the model's table
    makes the same stamp key, so the model is not converted again."""
    from hatch_tfjs.stamps import stamp_key

    base = {"source": "models/clf.keras", "output": "src/pkg/a"}
    on_hook = load_settings(stub_project, {"quantize": "uint8", "shard-size": 1024, "models": {"a": base}},
                            wheel_packages=["src/pkg"]).models[0]
    on_model = load_settings(stub_project, {"models": {"a": dict(base, quantize="uint8", **{"shard-size": 1024})}},
                             wheel_packages=["src/pkg"]).models[0]
    assert on_hook.origins != on_model.origins
    assert stamp_key(on_hook, "0" * 64) == stamp_key(on_model, "0" * 64)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("int8", "unknown quantization dtype 'int8'; expected one of \"float16\", \"uint8\", \"uint16\" (or false for none)"),
        (True, 'must be one of "float16", "uint8", "uint16", false, or a table of weight-name patterns such as '
               '{ uint8 = ["*/kernel"], float16 = ["*"] }, not a boolean True (say which: quantize = "float16")'),
        (8, 'must be one of "float16", "uint8", "uint16", false, or a table of weight-name patterns such as '
            '{ uint8 = ["*/kernel"], float16 = ["*"] }, not an integer 8'),
        ({}, 'is an empty table; map a dtype to weight-name patterns, e.g. { uint8 = ["*/kernel"] }, or remove it'),
    ],
)
def test_bad_quantize_values(stub_project, value, message):
    assert problems(stub_project, {"quantize": value}) == [f"{KEY}.quantize: {message}"]


def test_bad_quantize_tables_report_every_dtype(stub_project):
    found = problems(stub_project, {"quantize": {"uint8": ["*/kernel"], "int4": ["*"], "float16": "*", "uint16": [], "uint8x": 1}})
    assert found == [
        f"{KEY}.quantize.int4: unknown quantization dtype 'int4'; expected one of \"float16\", \"uint8\", \"uint16\"",
        f"{KEY}.quantize.float16: must be a non-empty array of weight-name patterns such as [\"*/kernel\"], not a string '*'",
        f"{KEY}.quantize.uint16: must be a non-empty array of weight-name patterns such as [\"*/kernel\"], not an array []",
        f"{KEY}.quantize.uint8x: unknown quantization dtype 'uint8x'; expected one of \"float16\", \"uint8\", \"uint16\"",
    ]


def test_one_pattern_under_two_dtypes(stub_project):
    found = problems(stub_project, {"quantize": {"uint8": ["*/kernel"], "float16": ["*/bias", "*/kernel"]}})
    assert found == [
        f"{KEY}.quantize.float16: pattern '*/kernel' is also listed under uint8; "
        "a weight can only be quantized to one dtype: keep it under one"
    ]


def test_bad_hook_level_quantize_is_reported_once(stub_project):
    assert problems(stub_project, quantize="bfloat16") == [
        f"{TABLE}.quantize: unknown quantization dtype 'bfloat16'; expected one of \"float16\", \"uint8\", \"uint16\" (or false for none)"
    ]


# --- shard-size -------------------------------------------------------------------------------------------------------


def test_shard_size_zero_means_one_shard(stub_project):
    assert settings(stub_project, {"shard-size": 0}).models[0].shard_size == 0
    assert settings(stub_project, None, **{"shard-size": 0}).models[0].shard_size == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not -1"),
        (1.5, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a float 1.5"),
        (False, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a boolean False"),
        ("4MiB", "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a string '4MiB'"),
    ],
)
def test_bad_shard_sizes(stub_project, value, message):
    assert problems(stub_project, {"shard-size": value}) == [f"{KEY}.shard-size: {message}"]


# --- metadata ---------------------------------------------------------------------------------------------------------


def test_metadata_from_toml(stub_project):
    document = tomllib.loads('metadata = { labels = ["cat", "dog"], input-size = 224, norm = { mean = 0.5 } }')
    spec = settings(stub_project, document).models[0]
    assert spec.metadata == {"labels": ["cat", "dog"], "input-size": 224, "norm": {"mean": 0.5}}
    assert spec_from_json(json.loads(json.dumps(spec_to_json(spec)))).metadata == spec.metadata


def test_metadata_file_is_merged(stub_project):
    spec = settings(stub_project, {"metadata-file": "models/labels.json", "metadata": {"input-size": 224}}).models[0]
    assert spec.metadata == {"labels": ["cat", "dog"], "mean": [0.5, 0.4], "input-size": 224}


def test_hook_level_metadata_file_and_model_metadata(stub_project):
    spec = settings(stub_project, {"metadata": {"size": 3}}, **{"metadata-file": "models/labels.json", "metadata": {"x": 1}}).models[0]
    assert spec.metadata == {"labels": ["cat", "dog"], "mean": [0.5, 0.4], "size": 3}  # the model's metadata replaces the hook's


def test_a_key_in_both_metadata_and_the_file(stub_project):
    assert problems(stub_project, {"metadata-file": "models/labels.json", "metadata": {"labels": ["x"]}}) == [
        f"{KEY}.metadata.labels: is also set by metadata-file 'models/labels.json'; keep each metadata key in one place"
    ]


@pytest.mark.parametrize(
    ("value", "where", "message"),
    [
        ({"released": datetime.datetime(2024, 1, 2, 3, 4, 5)}, ".released",
         'a TOML date-time (2024-01-02T03:04:05) cannot be stored in JSON metadata; quote it: "2024-01-02T03:04:05"'),
        ({"a": {"b": [1, datetime.date(2024, 5, 6)]}}, ".a.b[1]",
         'a TOML date (2024-05-06) cannot be stored in JSON metadata; quote it: "2024-05-06"'),
        ({"scale": float("inf")}, ".scale", "inf is not a number JSON can hold; use a string or remove it"),
        ({"deep": _nested(40)}, ".deep" + "[0]" * 31, DEEP),
        ({"label": "\ud800"}, ".label", "'\\ud800' holds a lone surrogate (\\ud800), which is not text: UTF-8 cannot store "
         "it; remove it"),
        ({"big": 10**400}, ".big", "an integer of 1329 bits is too large for a JavaScript number; use a string"),
        ({"x": "a" * MAX_BYTES}, "", f"is {MAX_BYTES + 9} bytes as JSON, more than {MAX_BYTES} (4 MiB); metadata is for "
         "labels and small settings: ship larger data as a file of its own in the package"),
        (["cat"], "", "must be a table (it becomes model.json's userDefinedMetadata), e.g. { labels = [\"cat\", \"dog\"] }, "
                      "not an array ['cat']"),
    ],
)
def test_bad_metadata(stub_project, value, where, message):
    assert problems(stub_project, {"metadata": value}) == [f"{KEY}.metadata{where}: {message}"]


def test_toml_datetime_really_reaches_us_as_a_datetime(stub_project):
    document = tomllib.loads("metadata = { trained = 2024-01-02T03:04:05Z }")
    assert problems(stub_project, document) == [
        f"{KEY}.metadata.trained: a TOML date-time (2024-01-02T03:04:05+00:00) cannot be stored in JSON metadata; "
        'quote it: "2024-01-02T03:04:05+00:00"'
    ]


@pytest.mark.parametrize(
    ("content", "value", "message"),
    [
        (None, "models/missing.json", "'models/missing.json': file not found"),
        (b'{"labels": ["a",}', "models/m.json", "'models/m.json' is not valid JSON: Expecting value at line 1, column 17"),
        (b'{"x": NaN}', "models/m.json", "'models/m.json' is not valid JSON: NaN is not valid JSON"),
        (b"\xff\xfe{}", "models/m.json", "'models/m.json' is not UTF-8 text (invalid start byte at byte 0); save it as UTF-8 JSON"),
        (b'["cat", "dog"]', "models/m.json", "'models/m.json' holds an array, not a JSON object; wrap it in an object, e.g. {\"labels\": [...]}"),
        (b"null", "models/m.json", "'models/m.json' holds null, not a JSON object; wrap it in an object, e.g. {\"labels\": [...]}"),
        (None, "models", "'models': is a directory, not a JSON file"),
        (None, "../labels.json", "'../labels.json' is outside the project; keep the metadata file inside it, e.g. \"models/labels.json\""),
        (None, 7, "must be a path relative to the project root, e.g. \"models/labels.json\", not an integer 7"),
        # hostile JSON (issue 21.3): each one problem, never a RecursionError, UnicodeEncodeError or ValueError
        (b"[" * 100_000 + b"]" * 100_000, "models/m.json", f"'models/m.json' {DEEP}"),
        (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "models/m.json", f"'models/m.json' at a{'[0]' * 31}: {DEEP}"),
        (b'{"label": "\\ud800x"}', "models/m.json",
         "'models/m.json' at label: '\\ud800x' holds a lone surrogate (\\ud800), which is not text: UTF-8 cannot store it; "
         "remove it"),
        (b'{"\\udfff": 1}', "models/m.json",
         "'models/m.json' at the top: key '\\udfff' holds a lone surrogate (\\udfff), which is not text: UTF-8 cannot "
         "store it; remove it"),
        (b'{"scale": 1e400}', "models/m.json",
         "'models/m.json' is not valid metadata: 1e400 is too large for a JSON number; write it as a string"),
        (b'{"n": 1' + b"0" * 400 + b"}", "models/m.json",
         "'models/m.json' at n: an integer of 1329 bits is too large for a JavaScript number; use a string"),
        (b'{"n": 1' + b"0" * 5000 + b"}", "models/m.json",
         "'models/m.json' is not valid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has "
         "5001 digits; use sys.set_int_max_str_digits() to increase the limit"),
        (b'{"x": "' + b"a" * MAX_BYTES + b'"}', "models/m.json",
         f"'models/m.json' is {MAX_BYTES + 9} bytes, more than {MAX_BYTES} (4 MiB); metadata is for labels and small "
         "settings: ship larger data as a file of its own in the package"),
    ],
)
def test_bad_metadata_files(stub_project, content, value, message):
    if content is not None:
        (stub_project / value).write_bytes(content)
    assert problems(stub_project, {"metadata-file": value}) == [f"{KEY}.metadata-file: {message}"]


def test_every_new_option_is_known_on_both_levels(stub_project):
    found = problems(stub_project, {"quantise": "uint8"}, **{"metadata_file": "x"})
    assert any(p.startswith(f"{TABLE}.metadata_file: unknown key (did you mean 'metadata-file'?); known keys:") for p in found)
    assert any(p.startswith(f"{KEY}.quantise: unknown key (did you mean 'quantize'?); known keys:") for p in found)


def test_the_readme_option_table_is_generated_from_the_declarations():
    """Each option is declared once (config/declarations.py); the README's table is rendered from it and lists every
    option."""
    from pathlib import Path

    from hatch_tfjs.config import MODEL_OPTIONS
    from hatch_tfjs.config.declarations import reference_table

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    table = reference_table()
    assert table in readme, "paste hatch_tfjs.config.declarations.reference_table() into README.md"
    assert all(f"`{key}`" in table for key in MODEL_OPTIONS)


def test_the_json_schema_is_generated_from_the_declarations_and_judges_tables_as_the_hook_does():
    import jsonschema
    import tomllib
    from pathlib import Path

    from hatch_tfjs.config import MODEL_OPTIONS
    from hatch_tfjs.tools.generate_schema import SCHEMA_FILE, schema_text

    assert SCHEMA_FILE.read_text("utf-8") == schema_text(), "run: python -m hatch_tfjs.tools.generate_schema"
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    model_schema = schema["properties"]["models"]["additionalProperties"]
    assert set(MODEL_OPTIONS) <= set(model_schema["properties"]) and set(MODEL_OPTIONS) <= set(schema["properties"])
    validator = jsonschema.Draft202012Validator(schema)
    sample = tomllib.loads((Path(__file__).parents[2] / "sample_project" / "pyproject.toml").read_text("utf-8"))
    table = sample["tool"]["hatch"]["build"]["hooks"]["tfjs"]
    assert list(validator.iter_errors(table)) == []
    for wrong in ({"shard_size": 1}, {"models": {"x": {"source": "m.keras", "quantize": "int8"}}},
                  {"models": {"x": {"format": "graph"}}}, {"jobs": 0}):
        assert list(validator.iter_errors({**table, **wrong})), wrong

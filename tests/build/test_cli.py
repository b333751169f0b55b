"""The hatch-tfjs command: every subcommand through the installed console script or python -m, exit codes, output,
and clean one-message errors for user mistakes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import SAMPLE_PROJECT, assert_parity, copy_sample_project, keras_predict
from projects import file_digests

SCRIPT = Path(sys.executable).parent / "hatch-tfjs"
IRIS = SAMPLE_PROJECT / "models" / "iris.keras"


def cli(*args: str, cwd: Path | None = None, module: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hatch_tfjs"] if module else [str(SCRIPT)]
    proc = subprocess.run([*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    return copy_sample_project(tmp_path / "proj")


@pytest.mark.parametrize("command", ["convert", "check", "list", "inspect"])
def test_help_for_each_subcommand(command):
    proc = cli(command, "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: hatch-tfjs {command}")
    expected = {
        "convert": ["SOURCE", "OUTDIR", "--format", "--quantize", "--shard-size", "--metadata"],
        "check": ["PROJECT", "writing nothing into the project"],
        "list": ["PROJECT", "--json", "fresh"],
        "inspect": ["TARGET", "model name", "--json"],
    }[command]
    for text in expected:
        assert text in proc.stdout


def test_python_m_and_version():
    proc = cli("--help", module=True)
    assert proc.returncode == 0 and "convert" in proc.stdout and "inspect" in proc.stdout
    assert cli("--version").stdout.strip() == "hatch-tfjs 0.1.0"
    proc = cli()
    assert proc.returncode == 2 and "required: COMMAND" in proc.stderr


FAST = "graph model (auto: the faster form in TF.js, compiled exactly)"


def test_convert_one_model_runs_in_tfjs_like_keras(tmp_path, tfjs):
    import keras

    out = tmp_path / "web" / "flowers"
    metadata = {"labels": ["setosa", "versicolor", "virginica"]}
    proc = cli("convert", IRIS, out, "--shard-size", "256", "--metadata", json.dumps(metadata), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"iris: graph model (auto: the faster form in TF.js, compiled exactly) -> {out} (3 shards, ")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin", "model.json"
    ]  # fmt: skip
    assert json.loads((out / "model.json").read_text())["userDefinedMetadata"] == metadata
    inputs = [np.random.default_rng(1).normal(5, 1.5, size=(4, 4)).astype("float32")]
    got, _ = tfjs.run(out, inputs, format="graph")
    assert_parity(got, keras_predict(keras.saving.load_model(IRIS, compile=False), inputs))


def test_convert_quantized_then_inspect(tmp_path):
    out = tmp_path / "q"
    proc = cli("convert", IRIS, out, "--format", "layers", "--quantize", "uint8=*/kernel", "--quantize", "float16",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "quantized 4 of 4 weights" in proc.stdout
    info = json.loads(cli("inspect", out, "--json").stdout)
    assert info["quantization"] == {"float16": 2, "uint8": 2}
    # kernels 4x16 + 16x3 as uint8 (1 byte), biases 16 + 3 as float16 (2 bytes)
    assert info["weights"]["bytes"] == 64 + 48 + 2 * (16 + 3) == info["shards"][0]["bytes"]


def test_convert_reports_every_bad_argument_by_its_flag(tmp_path):
    proc = cli("convert", IRIS, tmp_path / "out", "--shard-size", "-3", "--quantize", "int4", "--format", "tflite", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "hatch-tfjs: error: cannot convert: 3 problems with the arguments:",
        "  - --format: unknown format 'tflite'; expected one of 'auto', 'layers', 'graph'",
        "  - --shard-size: must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not -3",
        '  - --quantize: unknown quantization dtype \'int4\'; expected one of "float16", "uint8", "uint16" (or leave out --quantize for none)',
    ]
    assert not (tmp_path / "out").exists()
    proc = cli("convert", tmp_path / "missing.keras", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"hatch-tfjs: error: SOURCE {tmp_path / 'missing.keras'}: file not found"
    proc = cli("convert", IRIS, tmp_path / "out", "--metadata", "{labels: 1}")
    assert proc.returncode == 1 and proc.stderr.startswith("hatch-tfjs: error: --metadata: not a valid JSON object")


def test_check_passes_without_writing_anything(sample_copy):
    proc = cli("check", sample_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{sample_copy / 'pyproject.toml'}: [tool.hatch.build.hooks.tfjs] is valid: 2 models; wheel packages: src/sample_app"
    assert lines[1].startswith("  ok    digits  models/digits.h5 -> src/sample_app/web_models/digits/  layers, 2 shards, ")
    assert lines[2].startswith("  ok    iris    models/iris.keras -> src/sample_app/web_models/iris/  graph (auto: the "
                               "faster form in TF.js, compiled exactly), 1 shard, ")
    assert lines[-1] == "check passed: every model converts (nothing was written to the project)"
    assert not (sample_copy / "src" / "sample_app" / "web_models").exists()


def test_check_fails_on_an_unsupported_model_with_the_reason(sample_copy):
    import keras
    from keras import layers

    inp = keras.Input((5, 2))
    keras.Model(inp, layers.GRU(3, name="recurrent")(inp)).save(sample_copy / "models" / "iris.keras")
    # By default (format = "auto") such a model becomes a graph model, and check says so and why.
    auto = cli("check", sample_copy)
    assert auto.returncode == 0, auto.stdout + auto.stderr
    assert "graph (auto: the faster form in TF.js, compiled exactly), 1 shard, " in auto.stdout
    assert "retrain" not in auto.stdout  # the model converts: no advice to change it
    # format = "layers" insists on a layers model: check fails with the reason.
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('[tool.hatch.build.hooks.tfjs.models.iris]\n', '[tool.hatch.build.hooks.tfjs.models.iris]\nformat = "layers"\n'))
    proc = cli("check", sample_copy)
    assert proc.returncode == 1
    assert "  ok    digits" in proc.stdout and "  FAIL  iris    models/iris.keras" in proc.stdout
    assert "model 'iris' (models/iris.keras) cannot be converted to a TF.js layers model" in proc.stdout
    assert "layer 'recurrent' (GRU): uses reset_after=True (the Keras 3 default), which TF.js's GRU does not implement; build the GRU with reset_after=False and retrain" in proc.stdout
    assert proc.stdout.rstrip().endswith("check failed: 1 of 2 models cannot be converted")
    assert not (sample_copy / "src" / "sample_app" / "web_models").exists()


def test_check_reports_configuration_problems(sample_copy, tmp_path):
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("shard-size = 16384", 'shard-size = "16k"\ncolour = "red"'))
    proc = cli("check", sample_copy)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"hatch-tfjs: error: {pyproject}: 2 problems in the tfjs build hook configuration:",
        "  - tool.hatch.build.hooks.tfjs.models.digits.colour: unknown key; known keys: "
        + proc.stderr.split("known keys: ", 1)[1].splitlines()[0],
        "  - tool.hatch.build.hooks.tfjs.models.digits.shard-size: must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a string '16k'",
    ]
    pyproject.write_text("[project\nname = 'x'\n")
    proc = cli("check", sample_copy)
    assert proc.returncode == 1 and proc.stderr.startswith(f"hatch-tfjs: error: {pyproject}: invalid TOML: ")
    proc = cli("check", tmp_path / "nowhere")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"hatch-tfjs: error: {tmp_path / 'nowhere'}: no such directory; pass the directory that holds pyproject.toml"
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "pyproject.toml").write_text('[project]\nname = "plain"\nversion = "1"\n')
    proc = cli("list", tmp_path / "plain")
    assert proc.returncode == 1 and "no tfjs build hook configured" in proc.stderr


def test_list_shows_freshness_across_builds(sample_copy):
    def states() -> dict[str, str]:
        proc = cli("list", sample_copy, "--json")
        assert proc.returncode == 0, proc.stderr
        return {m["name"]: ("fresh" if m["fresh"] else m["reason"]) for m in json.loads(proc.stdout)["models"]}

    assert states() == {"digits": "no previous output", "iris": "no previous output"}
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_copy, check=True, capture_output=True)
    assert states() == {"digits": "fresh", "iris": "fresh"}
    text = cli("list", sample_copy).stdout
    assert "iris    graph   models/iris.keras -> src/sample_app/web_models/iris/  fresh" in text
    assert text.splitlines()[-1] == "2 models, 0 to convert on the next build"
    (sample_copy / "models" / "iris.keras").write_bytes((sample_copy / "models" / "iris.keras").read_bytes() + b"\0")
    assert states() == {"digits": "fresh", "iris": "source changed"}
    assert "stale (source changed)" in cli("list", sample_copy).stdout


def test_inspect_a_built_model_and_a_broken_one(sample_copy):
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_copy, check=True, capture_output=True)
    digits = sample_copy / "src" / "sample_app" / "web_models" / "digits"
    proc = cli("inspect", digits)
    assert proc.returncode == 0
    text = proc.stdout
    assert "TF.js layers model" in text and "  runs with: tf.loadLayersModel, then model.predict()\n" in text
    assert "    pixels: [None, 8, 8, 1] float32" in text and "    digit: [None, 10] float32" in text
    assert "  layers: 7 (BatchNormalization 1, Conv2D 2, Dense 1, Dropout 1, GlobalAveragePooling2D 1, MaxPooling2D 1)" in text
    assert "  quantization: none" in text and "  shards: 2," in text
    assert '  metadata: {"labels": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]' in text
    info = json.loads(cli("inspect", digits, "--json").stdout)
    manifest = json.loads((digits / "model.json").read_text())["weightsManifest"][0]
    assert info["weights"]["count"] == len(manifest["weights"]) == 10
    assert info["weights"]["bytes"] == sum(s["bytes"] for s in info["shards"]) == 16384 + 4392
    assert [s["path"] for s in info["shards"]] == manifest["paths"]

    (digits / "group1-shard2of2.bin").unlink()
    proc = cli("inspect", digits)
    assert proc.returncode == 1
    assert "    group1-shard2of2.bin  MISSING" in proc.stdout
    assert "problem: shard group1-shard2of2.bin is missing" in proc.stdout
    proc = cli("inspect", sample_copy / "src")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"hatch-tfjs: error: {sample_copy / 'src'}: no model.json, index.json or pyproject.toml here; pass a model "
        "folder (with model.json), the output dir (with index.json), the project directory or a model's name"
    )


def test_inspect_takes_a_model_name_the_output_dir_or_the_project(sample_copy):
    """What a newcomer types: no argument or '.' (the project: every model), a model's name, the output dir."""
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_copy, check=True, capture_output=True)
    output_dir = sample_copy / "src" / "sample_app" / "web_models"
    alone = cli("inspect", output_dir / "iris").stdout
    for args in ([], ["."], [str(sample_copy)], [str(sample_copy / "pyproject.toml")], ["src/sample_app/web_models"]):
        proc = cli("inspect", *args, cwd=sample_copy)
        assert proc.returncode == 0, (args, proc.stderr)
        blocks = proc.stdout.split("\n\n")
        assert [b.split(": ", 1)[0] for b in blocks] == ["digits", "iris"], args  # each block named by its model
        assert blocks[1].split("\n", 1)[1] == alone.split("\n", 1)[1], args  # the folder's own description
        assert "    digit: [None, 10] float32" in blocks[0] and "    output_0: [None, 3] float32" in blocks[1]
    by_name = cli("inspect", "iris", cwd=sample_copy)
    assert by_name.returncode == 0 and by_name.stdout.split("\n", 1)[1] == alone.split("\n", 1)[1]
    assert json.loads(cli("inspect", "iris", "--json", cwd=sample_copy).stdout)["outputs"][0]["shape"] == [None, 3]
    listed = json.loads(cli("inspect", "--json", cwd=sample_copy).stdout)["models"]
    assert [(m["name"], m["format"]) for m in listed] == [("digits", "layers"), ("iris", "graph")]

    misspelt = cli("inspect", "irsi", cwd=sample_copy)
    assert misspelt.returncode == 1 and misspelt.stdout == ""
    assert misspelt.stderr.strip() == (
        "hatch-tfjs: error: irsi: no such file or directory, and pyproject.toml declares no model 'irsi' "
        "(did you mean 'iris'?); its models: digits, iris"
    )
    elsewhere = cli("inspect", "iris", cwd=sample_copy / "src")
    assert elsewhere.returncode == 1 and "iris: no such file or directory, nor a model of a pyproject.toml here" in elsewhere.stderr

    shutil.rmtree(output_dir / "iris")  # a model the build has not made (yet)
    proc = cli("inspect", cwd=sample_copy)
    assert proc.returncode == 1
    assert f"iris: {output_dir / 'iris'}: not built\n  problem: src/sample_app/web_models/iris/ has no model.json yet: build the project" in proc.stdout


def test_flag_errors_speak_the_command_line(tmp_path):
    proc = cli("convert", IRIS, tmp_path / "out", "--shard-size", "4MB")
    assert proc.returncode == 1  # the configuration's check, not argparse's "invalid int value" (exit 2)
    (problem,) = proc.stderr.splitlines()[1:]
    assert problem.startswith("  - --shard-size: must be a ") and " number of bytes (e.g. 4194304 for 4 MiB)" in problem
    assert problem.endswith(", not '4MB'")
    proc = cli("convert", IRIS, tmp_path / "out", "--quantize", "int8")
    assert proc.returncode == 1 and "(or leave out --quantize for none)" in proc.stderr and "false" not in proc.stderr
    proc = cli("convert", IRIS, tmp_path / "out", "--quantize", "uint8=nomatch*")
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"hatch-tfjs: error: model 'iris' ({IRIS}): uint8 pattern 'nomatch*' matches no weight; ")
    assert proc.stderr.rstrip().endswith("(set by --quantize)")  # no TOML key, no "-v" hiding the reason
    assert not (tmp_path / "out").exists()


def test_misspelt_flags_and_subcommands_get_a_suggestion(tmp_path):
    proc = cli("convert", IRIS, tmp_path / "out", "--quantise", "uint8")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "hatch-tfjs convert: error: unrecognized arguments: --quantise uint8 (--quantise: did you mean --quantize?)"
    )
    proc = cli("convert", IRIS, tmp_path / "out", "--quant=uint8")  # no abbreviations: a prefix is not a flag
    assert proc.returncode == 2 and "--quant: did you mean --quantize?" in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = cli("inspcet", tmp_path)
    assert proc.returncode == 2 and proc.stderr.rstrip().endswith("; did you mean 'inspect'?")


def test_did_you_mean():
    from hatch_tfjs.suggest import did_you_mean

    keys = ["format", "quantize", "shard-size", "metadata-file", "source"]
    assert did_you_mean("shard_size", keys) == "did you mean 'shard-size'?"
    assert did_you_mean("Quantise", keys) == "did you mean 'quantize'?"
    assert did_you_mean("metadata_fil", keys) == "did you mean 'metadata-file'?"
    assert did_you_mean("colour", keys) == ""


def test_convert_summary_and_inspect_of_a_quantized_model(tmp_path):
    out = tmp_path / "q"
    proc = cli("convert", IRIS, out, "--format", "layers", "--quantize", "uint8")
    assert proc.returncode == 0, proc.stderr
    # the build's summary: counts, bytes before -> after, the largest error and where
    assert re.fullmatch(
        rf"iris: layers model -> {re.escape(str(out))} \(1 shard, [0-9.]+ KiB, [0-9.]+ s\); quantized 4 of 4 weights: "
        r"weights 524 B -> 131 B, largest absolute weight error [0-9.e-]+ \(in [a-z]+/(kernel|bias)\)",
        proc.stdout.strip(),
    ), proc.stdout
    text = cli("inspect", out).stdout
    assert "  weights: 4 tensors, 131 values, 131 B\n    float32 stored as uint8: 4 tensors, 131 values, 131 B\n" in text
    assert "  quantization: 4 weights stored as uint8\n" in text and "    float32: " not in text


def test_a_gru_model_converts_to_a_graph_saying_why_in_few_words(tmp_path):
    """format auto: the summary says why it is a graph model (the faster form, compiled) without advice to retrain,
    notes the unrolling; --format layers fails with the fix in the command line's terms."""
    import keras
    from keras import layers

    source = tmp_path / "textclf.keras"
    keras.Sequential([keras.Input((12, 3)), layers.GRU(4, name="gru"), layers.Dense(2)]).save(source)
    proc = cli("convert", source, tmp_path / "auto")
    assert proc.returncode == 0, proc.stderr
    summary, *notes = proc.stdout.splitlines()
    assert summary.startswith(f"textclf: {FAST} -> {tmp_path / 'auto'} (1 shard, ")
    assert notes == [
        "  note: compiled from the Keras config without TensorFlow",
        "  note: unrolled RNN layer(s) gru (12 steps) over their fixed sequence length (no While loop in TF.js)",
    ]
    verbose = cli("convert", source, tmp_path / "verbose", "-v").stdout
    assert "retrain" not in verbose  # the default is the graph model anyway: nothing to change in the model

    refused = cli("convert", source, tmp_path / "layers", "--format", "layers")
    assert refused.returncode == 1
    assert refused.stderr.rstrip().endswith("(or ship it as a TF.js graph model: pass --format graph)"), refused.stderr
    assert "set format" not in refused.stderr and "[tool.hatch" not in refused.stderr


def test_inspect_names_what_generated_a_graph_model(tmp_path):
    import keras
    from keras import layers

    source = tmp_path / "seq.keras"
    keras.Sequential([keras.Input((3, 2)), layers.GRU(2)]).save(source)  # auto: a graph model (unrolled, no loop)
    assert cli("convert", source, tmp_path / "seq").returncode == 0  # compiled from the Keras file
    proc = cli("inspect", tmp_path / "seq")
    assert proc.returncode == 0
    assert re.match(rf"{re.escape(str(tmp_path / 'seq'))}: TF.js graph model \(keras v3[0-9.]+, hatch-tfjs v", proc.stdout)
    assert cli("convert", source, tmp_path / "traced", "--reader", "keras").returncode == 0  # through TensorFlow
    traced = cli("inspect", tmp_path / "traced").stdout
    assert re.match(rf"{re.escape(str(tmp_path / 'traced'))}: TF.js graph model \(TensorFlow [0-9.]+, hatch-tfjs v", traced)
    assert proc.stdout.splitlines()[1] == "  runs with: tf.loadGraphModel, then model.execute()"
    assert json.loads(cli("inspect", tmp_path / "seq", "--json").stdout)["execution"] == "sync"



def test_a_conversion_fix_speaks_the_command_line_without_rewriting(tmp_path):
    """A fix written at conversion, in the worker, in the command line's words: a custom class Keras cannot find is
    registered by a module named with the option (not on a pyproject.toml table the command line has none of), or
    installed here (there is no build environment to add dependencies to). The configuration words it for the command
    line; nothing rewrites it afterwards."""
    import keras

    @keras.saving.register_keras_serializable(package="naming_test")
    class Doubling(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    source = tmp_path / "custom.keras"
    inp = keras.Input((3,))
    keras.Model(inp, Doubling(name="doubling")(inp)).save(source)
    proc = cli("convert", source, tmp_path / "out", "--format", "graph", "--reader", "keras")
    assert proc.returncode == 1
    message = proc.stderr
    assert message.startswith(f"hatch-tfjs: error: {source}: Keras could not load model 'custom': "), message
    assert "is not registered when Keras loads the file: if module " in message
    assert "custom-modules" in message and "; if a distribution provides it, install it here" in message, message
    assert "[tool.hatch" not in message and "dependencies" not in message, message
    assert not (tmp_path / "out").exists()


def test_convert_imports_the_custom_modules_named_by_flag_from_the_working_directory(tmp_path, tfjs):
    """``--custom-modules`` imports the user's module from the working directory's ``src/`` (in the TensorFlow
    worker) before Keras loads the file, so a ``.keras`` file with the user's registered layer converts as it is and
    matches Keras in TF.js; run from elsewhere, one message names the module, the folders looked in and the fix."""
    import importlib

    import keras
    from user_models import USER_LAYERS

    project = tmp_path / "proj"
    (project / "src" / "app").mkdir(parents=True)
    (project / "src" / "app" / "__init__.py").write_text("")
    (project / "src" / "app" / "layers.py").write_text(USER_LAYERS)
    sys.path.insert(0, str(project / "src"))
    try:
        user_layers = importlib.import_module("app.layers")
    finally:
        sys.path.remove(str(project / "src"))
        sys.modules.pop("app", None)
        sys.modules.pop("app.layers", None)
    keras.utils.set_random_seed(7)
    x = keras.Input((3,), name="features")
    model = keras.Model(x, keras.layers.Dense(2)(user_layers.Scale(name="scale")(x)))
    source = project / "models" / "scorer.keras"
    source.parent.mkdir()
    model.save(source)
    features = np.random.default_rng(7).normal(size=(4, 3)).astype("float32")
    before = file_digests(project)

    elsewhere = cli("convert", source, tmp_path / "lost", "--custom-modules", "app.layers", cwd=tmp_path)
    assert elsewhere.returncode == 1
    assert (f"custom module 'app.layers' (set by --custom-modules): package 'app' is not in the working directory's "
            f"source tree (looked in {tmp_path / 'src'} and {tmp_path}); run the command from the project that holds "
            "it") in elsewhere.stderr, elsewhere.stderr
    assert not (tmp_path / "lost").exists()

    out = tmp_path / "web" / "scorer"
    proc = cli("convert", source, out, "--custom-modules", "app.layers", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"scorer: graph model ") and "graph through TensorFlow" in proc.stdout, proc.stdout
    got, _ = tfjs.run(out, [features], format="graph")
    assert_parity(got, [np.asarray(model(features))])
    assert file_digests(project) == before  # the user's files, byte for byte

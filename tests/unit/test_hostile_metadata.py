"""Hostile metadata JSON through real frontends and the command line (issue 21.3): deep nesting, lone surrogates and
out-of-range numbers each give one clear error naming the file and the key, no traceback, no output, no user file
touched. (The messages of every case are in test_options_config.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import copy_sample_project
from projects import WEB_MODELS, replace_in_pyproject, user_files

from hatch_tfjs.metadata_json import DEEP

pytestmark = pytest.mark.slow

KEY = "tool.hatch.build.hooks.tfjs.models.iris.metadata-file"
CASES = {
    "deep": (b"[" * 100_000 + b"]" * 100_000, f"'models/labels.json' {DEEP}"),
    "surrogate": (
        b'{"labels": ["setosa", "\\ud800"]}',
        "'models/labels.json' at labels[1]: '\\ud800' holds a lone surrogate (\\ud800), which is not text: UTF-8 "
        "cannot store it; remove it",
    ),
    "1e400": (
        b'{"scale": 1e400}',
        "'models/labels.json' is not valid metadata: 1e400 is too large for a JSON number; write it as a string",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_build_refuses_hostile_metadata_with_one_message(tmp_path, case):
    content, message = CASES[case]
    project = copy_sample_project(tmp_path / "proj")
    (project / "models" / "labels.json").write_bytes(content)
    replace_in_pyproject(project, 'source = "models/iris.keras"\n', 'source = "models/iris.keras"\nmetadata-file = "models/labels.json"\n')
    before = user_files(project, WEB_MODELS.as_posix())
    # python -m build: the error came out of get_requires_for_build_wheel as a traceback
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist"],
        cwd=project, capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{KEY}: {message}" in output, output[-3000:]
    assert "Traceback" not in output and "RecursionError" not in output and "internal error" not in output
    assert not (project / WEB_MODELS).exists() and not list((project / "dist").glob("*"))  # build makes dist/ itself
    assert user_files(project, WEB_MODELS.as_posix()) == before


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("[" * 30_000 + "]" * 30_000, f"hatch-tfjs: error: --metadata: {DEEP}"),  # was: internal error (a file name)
        ('["cat"]', "hatch-tfjs: error: --metadata: a JSON array, not a JSON object; e.g. --metadata "
         "'{\"labels\": [\"cat\", \"dog\"]}' or --metadata labels.json"),
        ('{"a": ' + "[" * 30_000 + "]" * 30_000 + "}", f"hatch-tfjs: error: --metadata: {DEEP}"),
        ('{"a": "\\udc80"}', "hatch-tfjs: error: cannot convert: 1 problem with the arguments:\n  - --metadata: '\\udc80' "
                            "holds a lone surrogate (\\udc80), which is not text: UTF-8 cannot store it; remove it"),
        ('{"a": 1e400}', "hatch-tfjs: error: cannot convert: 1 problem with the arguments:\n  - --metadata: inf is not a "
                         "number JSON can hold; use a string or remove it"),
    ],
)
def test_convert_refuses_hostile_inline_metadata(tmp_path, metadata, message):
    from helpers import SAMPLE_PROJECT

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "hatch_tfjs", "convert", str(SAMPLE_PROJECT / "models" / "iris.keras"), str(out),
         "--metadata", metadata],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    if message is not None:
        assert proc.stderr.strip() == message
    assert not out.exists()

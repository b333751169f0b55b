""".ci/setup's package installs wait, for a bounded time and saying so, while another package manager holds the
dpkg lock (an install beside it, a desktop's unattended upgrades), then fail with the fix: checked with the real
apt-get and the real lock, held by this test the way apt-get itself holds it (a POSIX write lock)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

APT_WAIT = Path(__file__).parents[2] / ".ci" / "apt-wait"
LOCK = Path("/var/lib/dpkg/lock-frontend")
# A no-op that takes the lock as an install does: chromium is installed (set-up), and --no-upgrade keeps it as it is.
NO_OP_INSTALL = ["install", "-y", "-qq", "--no-upgrade", "chromium"]


@pytest.fixture
def held_lock():
    if os.geteuid() != 0 or shutil.which("apt-get") is None or not Path("/usr/bin/chromium").is_file():
        pytest.skip("needs root, apt-get and Debian's chromium installed (to take the real dpkg lock harmlessly)")
    handle = LOCK.open("r+")
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        pytest.skip("another package manager is running on this machine right now")
    yield handle
    handle.close()  # releases the lock if the test has not


def run_apt_wait(seconds: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HATCH_TFJS_APT_WAIT": str(seconds)}
    return subprocess.run(["bash", str(APT_WAIT), *NO_OP_INSTALL], capture_output=True, text=True, env=env, timeout=120)


def test_setup_waits_for_a_busy_package_manager_then_names_the_fix(held_lock):
    started = time.monotonic()
    proc = run_apt_wait(3)
    assert proc.returncode == 1, proc.stderr
    assert time.monotonic() - started >= 3
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("==> another package manager holds its lock (Could not get lock /var/lib/dpkg/lock-frontend")
    assert f"held by process {os.getpid()}" in lines[0] and lines[0].endswith("; waiting for it, at most 3 s")
    assert lines[1].startswith("error: the package manager is still busy after 3 s: Could not get lock")
    assert "run .ci/setup again" in lines[2] and "HATCH_TFJS_APT_WAIT=1800 bash .ci/setup" in lines[2]
    assert "Traceback" not in proc.stderr


def test_setup_goes_on_once_the_lock_is_released(held_lock):
    threading.Timer(3, held_lock.close).start()  # the other install finishes after 3 s
    proc = run_apt_wait(60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("==> another package manager holds its lock (")
    assert "still busy" not in proc.stderr


def test_setup_uses_the_waiting_apt_get():
    setup = (APT_WAIT.parent / "setup").read_text()
    assert 'apt-wait" update' in setup and 'apt-wait" install -y -qq chromium' in setup
    assert "\n  $SUDO apt-get" not in setup and "DEBIAN_FRONTEND=noninteractive $SUDO apt-get" not in setup

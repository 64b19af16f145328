"""The shipped stubs type-check real usage under ``mypy --strict``."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)


def test_public_api_passes_mypy_strict():
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         os.path.join(HERE, "typing_check.py")],
        capture_output=True, text=True, cwd=os.path.dirname(HERE), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_ship_beside_every_extension():
    import nexus_net
    root = os.path.dirname(nexus_net.__file__)
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".pyx"):
                assert name[:-4] + ".pyi" in files, f"{name} has no .pyi stub"
    assert os.path.exists(os.path.join(root, "py.typed"))

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


def compiled_modules():
    """The extension modules setup.py builds (its MODULES list)."""
    import ast
    tree = ast.parse(open(os.path.join(os.path.dirname(HERE), "setup.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "MODULES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no MODULES list")


def test_every_extension_is_compiled_and_has_its_stub():
    # Run against an installed wheel too (.ci/matrix): there is no .pyx there,
    # so walk the modules setup.py builds rather than the sources.
    import importlib
    import importlib.machinery
    import nexus_net
    modules = compiled_modules()
    assert len(modules) >= 15
    for name in modules:
        module = importlib.import_module(name)
        path = module.__file__
        assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), f"{name} is not compiled: {path}"
        stem = os.path.join(os.path.dirname(path), name.rsplit(".", 1)[1])
        assert os.path.exists(stem + ".pyi"), f"{name} has no .pyi stub"
    root = os.path.dirname(nexus_net.__file__)
    assert os.path.exists(os.path.join(root, "py.typed"))
    # and no source module is left without its compiled form
    for dirpath, _, files in os.walk(root):
        for file in files:
            if file.endswith(".pyx"):
                package = os.path.relpath(dirpath, os.path.dirname(root)).replace(os.sep, ".")
                assert f"{package}.{file[:-4]}" in modules, f"{file} is not in setup.py's MODULES"

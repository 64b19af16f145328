"""The sdist and the wheel hold what a user needs, and nothing else.

The artifacts are built the way a release is (``python -m build``: an sdist,
then a wheel built from that sdist, both in isolated build environments),
unless ``NEXUS_NET_DIST`` names a folder that already holds them: .ci/matrix
builds them once and runs the whole suite against the installed wheel.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser

import pytest

from test_typing import compiled_modules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP_LEVEL_FILES = ["setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"]
TOP_LEVEL_DIRS = ["tests", "docs", "examples", "bench", "fuzz"]
NEVER_IN_SDIST = (".c", ".so", ".pyd", ".html", ".pyc", ".o")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[str, str]:
    """(sdist path, wheel path)."""
    folder = os.environ.get("NEXUS_NET_DIST")
    if not folder:
        if not os.path.isdir(os.path.join(ROOT, "nexus_net")):
            pytest.skip("no artifacts (NEXUS_NET_DIST) and no source tree to build them from")
        pytest.importorskip("build", reason="the 'build' package is in the test extra")
        folder = str(tmp_path_factory.mktemp("dist"))
        # no arguments: sdist first, then the wheel from the unpacked sdist
        proc = subprocess.run([sys.executable, "-m", "build", "--outdir", folder, ROOT],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    sdists = glob.glob(os.path.join(folder, "nexus_net-*.tar.gz"))
    wheels = glob.glob(os.path.join(folder, "nexus_net-*.whl"))
    assert len(sdists) == 1 and wheels, os.listdir(folder)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    ours = [w for w in wheels if f"-{tag}-" in os.path.basename(w)]
    return sdists[0], (ours or wheels)[0]


def sdist_names(path: str) -> list[str]:
    with tarfile.open(path) as tar:
        names = tar.getnames()
    prefix = names[0].split("/")[0] + "/"
    return [n[len(prefix):] for n in names if n.startswith(prefix)]


def test_sdist_has_every_source_and_no_build_product(dist):
    names = set(sdist_names(dist[0]))
    for module in compiled_modules():
        base = module.replace(".", "/")
        assert base + ".pyx" in names, f"{base}.pyx is missing from the sdist"
        assert base + ".pyi" in names, f"{base}.pyi is missing from the sdist"
    assert "nexus_net/py.typed" in names
    for name in TOP_LEVEL_FILES + [".ci/run"]:
        assert name in names, f"{name} is missing from the sdist"
    for folder in TOP_LEVEL_DIRS:
        assert any(n.startswith(folder + "/") for n in names), f"{folder}/ is missing from the sdist"
    bad = [n for n in names if n.endswith(NEVER_IN_SDIST)
           or n.split("/")[0] in ("reports", ".venv", "build", "dist")
           or "__pycache__" in n]
    assert not bad, f"build products or local folders in the sdist: {bad[:10]}"


def test_sdist_matches_the_source_tree(dist):
    # Where the tree is at hand (not in .ci/matrix, which removes it so it
    # cannot shadow the installed package): every source file ships.
    tree = os.path.join(ROOT, "nexus_net")
    if not os.path.isdir(tree):
        pytest.skip("no source tree beside the tests (installed-wheel run)")
    names = set(sdist_names(dist[0]))
    for dirpath, _, files in os.walk(tree):
        for file in files:
            if file.endswith((".py", ".pyx", ".pxd", ".pyi")) or file == "py.typed":
                rel = os.path.relpath(os.path.join(dirpath, file), ROOT).replace(os.sep, "/")
                assert rel in names, f"{rel} is in the tree but not in the sdist"


def test_wheel_has_compiled_modules_stubs_and_no_sources(dist):
    with zipfile.ZipFile(dist[1]) as whl:
        names = set(whl.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(whl.read(metadata).decode())
    for module in compiled_modules():
        base = module.replace(".", "/")
        assert any(n.startswith(base + ".") and n.endswith((".so", ".pyd")) for n in names), \
            f"{module} is not compiled into the wheel"
        assert base + ".pyi" in names, f"{base}.pyi is missing from the wheel"
    pxds = {n for n in sdist_names(dist[0]) if n.endswith(".pxd")}
    assert pxds and pxds <= names, f"missing .pxd: {sorted(pxds - names)}"
    assert "nexus_net/py.typed" in names
    sources = [n for n in names if n.endswith((".pyx", ".c", ".html"))]
    assert not sources, f"sources or build products in the wheel: {sources}"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.10"
    classifiers = meta.get_all("Classifier")
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert meta.get_all("Project-URL") and meta["Keywords"]


def test_wheel_installs_into_a_fresh_venv_and_imports_every_extension(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / ("Scripts" if os.name == "nt" else "bin") / "python")
    proc = subprocess.run([python, "-m", "pip", "install", "-q", dist[1]],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    script = ("import importlib, sys, nexus_net\n"
              "assert 'site-packages' in nexus_net.__file__, nexus_net.__file__\n"
              f"for name in {compiled_modules()!r}:\n"
              "    importlib.import_module(name)\n"
              "print('imported', nexus_net.__version__)\n")
    # from an empty folder, so the source tree cannot be imported instead
    proc = subprocess.run([python, "-c", script], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("imported ")

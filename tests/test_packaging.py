"""The distribution: one package ``diffclust``; no top-level harness/backends/datasets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check", "-w", str(out), str(ROOT)],
        check=True,
    )
    (path,) = out.glob("diffclust-*.whl")
    return path


def test_wheel_installs_only_the_diffclust_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"diffclust"}
    for expected in ("diffclust/__init__.py", "diffclust/backends/em.py", "diffclust/datasets/blobs.py",
                     "diffclust/suites/quick.toml", "diffclust/suites/full.toml"):
        assert expected in names


def test_wheel_declares_the_console_script_and_extras(wheel):
    archive = zipfile.ZipFile(wheel)
    dist_info = next(n.split("/")[0] for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "diffclust = diffclust.cli:main" in entry_points
    metadata = archive.read(f"{dist_info}/METADATA").decode()
    for extra in ("torch", "jax", "faiss", "dask", "dev", "all"):
        assert f"Provides-Extra: {extra}" in metadata


def test_installed_package_has_no_top_level_layout_names(tmp_path):
    # Run from an empty folder so the source tree is not on sys.path.
    code = (
        "import importlib.util, diffclust.backends.em, diffclust.datasets.blobs\n"
        "print([importlib.util.find_spec(m) is None for m in ('harness', 'backends', 'datasets')])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[True, True, True]"


def test_wheel_carries_the_new_backend_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("pyproject.toml", "README.md", "__init__.py", "test_backend.py",
                     "backend_numpy.py", "backend_torch.py", "backend_jax.py"):
        assert f"diffclust/templates/backend/{template}.tmpl" in names


def test_compiled_functions_are_cached_in_the_users_cache_not_the_package(tmp_path):
    # numba's files beside an installed package are unknown to pip: an uninstall leaves a
    # diffclust folder of them, which the next install then imports as an empty namespace.
    import os

    import diffclust

    package_dirs = [Path(diffclust.__file__).parent, Path(diffclust.__file__).parent.parent / "backends"]
    before = {p for d in package_dirs for p in d.rglob("*.nbi")}
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = (
        "import numpy as np, diffclust\n"
        "from diffclust.kmeans_math import assign\n"
        "from diffclust.backends._gumbel_cpu import fill_gumbel\n"
        "X = np.random.default_rng(0).random((300, 3), dtype=np.float32)\n"
        "assign(X, X[:4]); fill_gumbel(1, np.empty(64, dtype=np.float32))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    assert list((tmp_path / "diffclust" / "numba").rglob("*.nbi")), "no numba cache in the user's cache folder"
    after = {p for d in package_dirs for p in d.rglob("*.nbi")}
    assert after == before, f"numba wrote beside the sources: {sorted(after - before)[:3]}"

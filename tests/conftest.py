"""Shared fixtures: real plugin packages installed with pip into a throwaway folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
PLUGIN_PACKAGES = TESTS / "plugins"


def pip_install_target(package_dir: Path, target: Path) -> Path:
    """``pip install --target`` a plugin package: a real install, with its dist-info and
    entry points, into ``target`` rather than the running environment."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(package_dir)],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory) -> Path:
    """Every package under tests/plugins/ installed into one folder (once per session)."""
    target = tmp_path_factory.mktemp("site")
    for package in sorted(p for p in PLUGIN_PACKAGES.iterdir() if (p / "pyproject.toml").exists()):
        pip_install_target(package, target)
    return target


@pytest.fixture
def plugin_env(installed_plugins, monkeypatch) -> Path:
    """This process and its child processes see the installed test plugins."""
    monkeypatch.syspath_prepend(str(installed_plugins))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(installed_plugins), os.environ.get("PYTHONPATH")])))
    import importlib

    importlib.invalidate_caches()
    from diffclust.registry import _cached_registry

    _cached_registry.cache_clear()
    yield installed_plugins
    _cached_registry.cache_clear()

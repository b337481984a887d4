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
#: Deliberately broken plugin packages, kept apart so that they never disturb the tests
#: that install the well-behaved ones.
BROKEN_PLUGIN_PACKAGES = TESTS / "plugins_broken"
#: The example third-party plugin packages shipped with the project.
EXAMPLE_PACKAGES = TESTS.parent / "examples"


def pip_install_target(package_dir: Path | list[Path], target: Path) -> Path:
    """``pip install --target`` plugin packages: a real install, with dist-info and entry
    points, into ``target`` rather than the running environment."""
    packages = [package_dir] if isinstance(package_dir, Path) else package_dir
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), *map(str, packages)],
        check=True,
    )
    return target


def packages_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / "pyproject.toml").exists())


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory) -> Path:
    """Every package under tests/plugins/ installed into one folder (once per session)."""
    return pip_install_target(packages_in(PLUGIN_PACKAGES), tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def installed_broken_plugins(tmp_path_factory) -> Path:
    """Every package under tests/plugins_broken/ installed into one folder (once per session)."""
    return pip_install_target(packages_in(BROKEN_PLUGIN_PACKAGES), tmp_path_factory.mktemp("site_broken"))


@pytest.fixture(scope="session")
def installed_examples(tmp_path_factory) -> Path:
    """Every package under examples/ installed into one folder (once per session)."""
    return pip_install_target(packages_in(EXAMPLE_PACKAGES), tmp_path_factory.mktemp("site_examples"))


def _see_site(folder: Path, monkeypatch):
    """This process and its child processes see the packages installed in ``folder``."""
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    import importlib

    importlib.invalidate_caches()
    from diffclust.registry import _cached_registry

    _cached_registry.cache_clear()
    yield folder
    _cached_registry.cache_clear()


@pytest.fixture
def plugin_env(installed_plugins, monkeypatch) -> Path:
    """This process and its child processes see the installed test plugins."""
    yield from _see_site(installed_plugins, monkeypatch)


@pytest.fixture
def examples_env(installed_examples, monkeypatch) -> Path:
    """This process and its child processes see the installed example plugins."""
    yield from _see_site(installed_examples, monkeypatch)


@pytest.fixture
def broken_plugin_env(installed_broken_plugins, monkeypatch) -> Path:
    """This process and its child processes see the installed broken plugins."""
    yield from _see_site(installed_broken_plugins, monkeypatch)


@pytest.fixture
def cli():
    """Run ``python -m diffclust ARGS`` in a child process; returns the CompletedProcess.

    Wide columns, so that rich does not wrap the lines a test looks for.
    """

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, python: str = sys.executable):
        full_env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
        return subprocess.run([python, "-m", "diffclust", *args], capture_output=True, text=True, env=full_env, cwd=cwd)

    return run


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Benchmarks run once, as smoke tests, unless asked for numbers.

    ``pytest tests/benchmarks --benchmark-only`` (or ``--benchmark-enable``) times them;
    a plain ``pytest`` runs each benchmarked function once.
    """
    if config.pluginmanager.hasplugin("benchmark"):
        if not (config.getoption("benchmark_only") or config.getoption("benchmark_enable")):
            config.option.benchmark_disable = True

"""Plugin loading: built-ins, installed entry points and loose modules, with errors per plugin.

Sources, in order:

1. the built-in plugins (``diffclust.backends.*``, ``diffclust.datasets.*``), registered
   through the same hooks as everyone else's;
2. installed distributions' entry points in the group ``diffclust``; the environment
   variable ``DIFFCLUST_LOAD_PLUGINS`` (comma-separated entry-point names) restricts
   which load, and the empty string loads none;
3. loose modules or ``.py`` files named in ``DIFFCLUST_PLUGINS`` (comma-separated) and
   files in the ``--plugins-dir`` folders.

A plugin that fails to import is recorded with its error and skipped; the others load.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pluggy

from diffclust import hookspecs

ENTRY_POINT_GROUP = "diffclust"
ENV_PLUGINS = "DIFFCLUST_PLUGINS"
ENV_LOAD_PLUGINS = "DIFFCLUST_LOAD_PLUGINS"

BUILTIN_PLUGINS = (
    "diffclust.backends.em",
    "diffclust.backends.sklearn_kmeans",
    "diffclust.backends.faiss_kmeans",
    "diffclust.backends.torch_em",
    "diffclust.backends.torch_ste",
    "diffclust.backends.torch_gumbel",
    "diffclust.backends.soft_kmeans",
    "diffclust.backends.jax_ste",
    "diffclust.backends.jax_gumbel",
    "diffclust.datasets.blobs",
    "diffclust.datasets.sklearn_toy",
    "diffclust.datasets.file",
)


@dataclass
class PluginRecord:
    """One plugin that diffclust tried to load."""

    name: str
    source: str  # "builtin", "entry point" or "loose"
    distribution: str | None = None
    version: str | None = None
    module: ModuleType | None = None
    error: str | None = None
    traceback: str | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How a message names this plugin: name and, when known, its distribution."""
        if self.distribution:
            return f"plugin {self.name!r} (distribution {self.distribution} {self.version or ''})".replace(" )", ")")
        return f"plugin {self.name!r} ({self.source})"


class PluginSet:
    """A pluggy manager with the record of what loaded and what failed."""

    def __init__(self, plugins_dirs: list[Path] | None = None) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        for module_name in BUILTIN_PLUGINS:
            self._load(PluginRecord(name=module_name, source="builtin", distribution="diffclust", version=_own_version()), lambda m=module_name: importlib.import_module(m))
        self._load_entry_points()
        for spec in _split(os.environ.get(ENV_PLUGINS, "")):
            self._load(PluginRecord(name=spec, source="loose"), lambda s=spec: _import_loose(s))
        for folder in plugins_dirs or []:
            folder = Path(folder)
            if not folder.is_dir():
                self.records[str(folder)] = PluginRecord(
                    name=str(folder), source="loose", error=f"--plugins-dir {folder} is not a folder"
                )
                continue
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    self._load(PluginRecord(name=str(path), source="loose"), lambda p=path: _import_loose(str(p)))

    # -- loading -----------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        allowed = os.environ.get(ENV_LOAD_PLUGINS)
        allowed_names = None if allowed is None else set(_split(allowed))
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if allowed_names is not None and ep.name not in allowed_names:
                continue
            if ep.name in self.records:
                continue  # the same distribution seen twice on sys.path
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                source="entry point",
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            self._load(record, ep.load)

    def _load(self, record: PluginRecord, importer) -> None:
        self.records[record.name] = record
        try:
            module = importer()
            self.manager.register(module, name=record.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            record.error = f"{type(exc).__name__}: {exc}"
            record.traceback = traceback.format_exc()
            return
        record.module = module
        record.hooks = sorted(caller.name for caller in self.manager.get_hookcallers(module) or [])

    # -- queries -----------------------------------------------------------------------

    @property
    def failed(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.error]

    def record_of(self, plugin: object) -> PluginRecord:
        name = self.manager.get_name(plugin)
        return self.records[name]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _import_loose(spec: str) -> ModuleType:
    """Import ``spec``: a path to a ``.py`` file, or a dotted module name."""
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such plugin file: {path}")
        module_name = f"diffclust_loose_plugin_{path.stem}_{abs(hash(str(path))) % 10**8}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


def _own_version() -> str:
    from diffclust import __version__

    return __version__

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
Every message names the plugin and, for an installed one, its distribution, says what
was expected and what came, and how to get out of it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
import zlib
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
    target: str | None = None  # what is imported: the entry point's value, a module or a file
    module: ModuleType | None = None
    error: str | None = None
    traceback: str | None = None
    hooks: list[str] = field(default_factory=list)
    #: Problems that did not stop the plugin from loading (a hook name diffclust lacks).
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How a message names this plugin: name and, when known, its distribution."""
        if self.distribution:
            return f"plugin {self.name!r} (distribution {self.distribution} {self.version or ''})".replace(" )", ")")
        return f"plugin {self.name!r} ({self.source})"

    def load_problem(self) -> str:
        """The message for a plugin that failed to load: what was expected, what came, the fix."""
        what = f"importing {self.target!r}" if self.target and self.target != self.name else "importing it"
        if self.source == "entry point":
            way_out = (
                f"Fix or reinstall it (`pip install -U {self.distribution or '...'}`), uninstall it, or "
                f"load only the plugins you want: DIFFCLUST_LOAD_PLUGINS=name,... (empty loads none)."
            )
        elif self.source == "loose":
            way_out = f"Fix the file, or remove it from {ENV_PLUGINS} / --plugins-dir."
        else:
            way_out = "This is a bug in diffclust; please report it with the traceback (`diffclust plugins`)."
        return f"{self.label} failed to load: {what} raised {self.error}. {way_out}"


class PluginSet:
    """A pluggy manager with the record of what loaded and what failed."""

    def __init__(self, plugins_dirs: list[Path] | None = None) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        #: Names in DIFFCLUST_LOAD_PLUGINS that no installed entry point has.
        self.unknown_allowed: list[str] = []
        for module_name in BUILTIN_PLUGINS:
            self._load(
                PluginRecord(name=module_name, source="builtin", distribution="diffclust", version=_own_version(), target=module_name),
                lambda m=module_name: importlib.import_module(m),
            )
        self._load_entry_points()
        for spec in _split(os.environ.get(ENV_PLUGINS, "")):
            self._load(PluginRecord(name=spec, source="loose", target=spec), lambda s=spec: _import_loose(s))
        for folder in plugins_dirs or []:
            folder = Path(folder)
            if not folder.is_dir():
                self.records[str(folder)] = PluginRecord(
                    name=str(folder), source="loose", target=str(folder),
                    error=f"NotADirectoryError: --plugins-dir {folder} is not a folder",
                )
                continue
            for path in sorted(folder.glob("*.py")):
                if not path.name.startswith("_"):
                    self._load(PluginRecord(name=str(path), source="loose", target=str(path)), lambda p=path: _import_loose(str(p)))

    # -- loading -----------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        allowed = os.environ.get(ENV_LOAD_PLUGINS)
        allowed_names = None if allowed is None else set(_split(allowed))
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            seen.add(ep.name)
            if allowed_names is not None and ep.name not in allowed_names:
                continue
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                source="entry point",
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                target=ep.value,
            )
            if ep.name in self.records:
                first = self.records[ep.name]
                if first.distribution != record.distribution or first.target != record.target:
                    first.warnings.append(
                        f"two installed plugins use the entry-point name {ep.name!r}: {first.label} "
                        f"({first.target}) and {record.label} ({record.target}); only the first was "
                        "loaded. Rename the entry point of one of them, or uninstall one."
                    )
                continue  # otherwise the same distribution seen twice on sys.path
            self._load(record, ep.load)
        if allowed_names:
            self.unknown_allowed = sorted(allowed_names - seen)

    def _load(self, record: PluginRecord, importer) -> None:
        self.records[record.name] = record
        try:
            module = importer()
            self.manager.register(module, name=record.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
            # pluggy's validation errors span several lines; a problem is one line.
            record.error = " ".join(f"{type(exc).__name__}: {exc}".split())
            record.traceback = traceback.format_exc()
            return
        record.module = module
        callers = self.manager.get_hookcallers(module) or []
        record.hooks = sorted(caller.name for caller in callers if caller.has_spec())
        for caller in callers:
            if not caller.has_spec():
                record.warnings.append(_unknown_hook(record, caller.name))
        if not callers:
            record.warnings.append(
                f"{record.label} loaded but implements no hook: {record.target or record.name} has no "
                f"function decorated with @diffclust.hookimpl (expected one of {', '.join(hook_names())}; "
                "see docs/plugins.md)."
            )

    # -- queries -----------------------------------------------------------------------

    @property
    def failed(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.error]

    def record_of(self, plugin: object) -> PluginRecord:
        name = self.manager.get_name(plugin)
        return self.records[name]


def hook_names() -> list[str]:
    """Every hook a plugin can implement: the functions of :mod:`diffclust.hookspecs`."""
    marker = hookspecs.PROJECT_NAME + "_spec"
    return sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), marker))


def _unknown_hook(record: PluginRecord, name: str) -> str:
    import difflib

    known = hook_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"{record.label} implements a hook {name!r} that diffclust does not have, so it is never "
        f"called.{hint} Hooks: {', '.join(known)}."
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _import_loose(spec: str) -> ModuleType:
    """Import ``spec``: a path to a ``.py`` file, or a dotted module name."""
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such plugin file: {path}")
        # A stable name (not hash(), which changes per process) so worker processes agree.
        module_name = f"diffclust_loose_plugin_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
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

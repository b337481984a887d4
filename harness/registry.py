"""The registry: every backend and dataset the loaded plugins registered, by name."""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from diffclust.backend import Backend
from diffclust.dataset import Dataset
from diffclust.errors import PluginError, UnknownNameError
from diffclust.plugins import ENV_LOAD_PLUGINS, ENV_PLUGINS, PluginRecord, PluginSet

KEBAB_CASE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass
class Entry:
    """A registered object and the plugin it came from."""

    obj: Any
    plugin: PluginRecord


@dataclass
class Registry:
    """Backends and datasets by name, plus every problem met while registering them."""

    plugins: PluginSet
    backends: dict[str, Entry] = field(default_factory=dict)
    datasets: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    # -- lookups -------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        if name not in self.backends:
            raise UnknownNameError(_unknown("backend", name, self.backends))
        return self.backends[name].obj

    def dataset(self, name: str) -> Dataset:
        if name not in self.datasets:
            raise UnknownNameError(_unknown("dataset", name, self.datasets))
        return self.datasets[name].obj


def _unknown(kind: str, name: str, known: dict[str, Entry]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known))}. `diffclust list` shows them all."


_REQUIRED = {
    "backend": (Backend, ("name", "fit", "params", "devices")),
    "dataset": (Dataset, ("name", "load", "params")),
}


def _check_member(kind: str, obj: Any, plugin: PluginRecord) -> str:
    base, members = _REQUIRED[kind]
    missing = [m for m in members if not hasattr(obj, m)]
    if missing:
        raise PluginError(
            f"{plugin.label} registered a {kind} {obj!r} that lacks {', '.join(missing)}; "
            f"expected a subclass of diffclust.{base.__name__}."
        )
    name = getattr(obj, "name", "")
    if not isinstance(name, str) or not KEBAB_CASE.match(name):
        raise PluginError(
            f"{plugin.label} registered a {kind} named {name!r}; names are kebab-case "
            "(lower-case letters, digits and single dashes, like 'torch-ste')."
        )
    if not isinstance(obj.params, dict):
        raise PluginError(f"{plugin.label}: {kind} {name!r} has params of type {type(obj.params).__name__}, expected a dict.")
    return name


def build_registry(plugins_dirs: list[Path] | None = None) -> Registry:
    """Load the plugins and collect what they register. Never raises for a bad plugin."""
    plugin_set = PluginSet(plugins_dirs)
    registry = Registry(plugins=plugin_set)
    for record in plugin_set.failed:
        registry.problems.append(f"{record.label} failed to load: {record.error}")
    for kind, hook_name, table in (
        ("backend", "register_backends", registry.backends),
        ("dataset", "register_datasets", registry.datasets),
    ):
        caller = getattr(plugin_set.manager.hook, hook_name)
        # Call each implementation on its own, so that a duplicate or an exception is
        # pinned on the plugin that caused it and the other plugins still register.
        for impl in reversed(caller.get_hookimpls()):
            record = plugin_set.record_of(impl.plugin)

            def register(obj: Any, _kind=kind, _table=table, _record=record) -> None:
                name = _check_member(_kind, obj, _record)
                if name in _table:
                    first = _table[name].plugin
                    raise PluginError(
                        f"{_kind} name {name!r} is registered twice: by {first.label} and by "
                        f"{_record.label}. Rename one, or uninstall one of them."
                    )
                _table[name] = Entry(obj, _record)

            try:
                impl.function(**{arg: register for arg in impl.argnames if arg == "register"})
            except PluginError as exc:
                registry.problems.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others
                registry.problems.append(
                    f"{record.label} raised in {hook_name}: {type(exc).__name__}: {exc}"
                )
                record.traceback = traceback.format_exc()
    return registry


@lru_cache(maxsize=8)
def _cached_registry(plugins_dirs: tuple[str, ...], env: tuple[str | None, ...]) -> Registry:
    return build_registry([Path(p) for p in plugins_dirs])


def get_registry(plugins_dirs: list[Path] | tuple[str, ...] | None = None) -> Registry:
    """The registry for this process, built once per set of plugin folders and plugin
    environment variables (so a changed ``DIFFCLUST_PLUGINS`` is seen)."""
    env = tuple(os.environ.get(var) for var in (ENV_PLUGINS, ENV_LOAD_PLUGINS))
    return _cached_registry(tuple(str(p) for p in plugins_dirs or ()), env)

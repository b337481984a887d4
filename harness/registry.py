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
            raise UnknownNameError(_unknown("backend", name, self.backends, self.plugins))
        return self.backends[name].obj

    def dataset(self, name: str) -> Dataset:
        if name not in self.datasets:
            raise UnknownNameError(_unknown("dataset", name, self.datasets, self.plugins))
        return self.datasets[name].obj


def _unknown(kind: str, name: str, known: dict[str, Entry], plugins: PluginSet | None = None) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    message = f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known))}. `diffclust list` shows them all."
    failed = [f"{record.label}: {record.error}" for record in plugins.failed] if plugins is not None else []
    if failed:
        message += f" These plugins failed to load and may provide it: {'; '.join(failed)}."
    return message


#: What a registered object must have, per kind: its base class, and its members with the
#: type each must have ("callable": a method).
_REQUIRED: dict[str, tuple[type, dict[str, Any]]] = {
    "backend": (Backend, {"name": str, "fit": "callable", "params": dict, "devices": "callable", "framework": str, "differentiable": bool}),
    "dataset": (Dataset, {"name": str, "load": "callable", "params": dict}),
}
#: The method a subclass must override, per kind.
_WORK_METHOD = {"backend": "fit", "dataset": "load"}


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def check_registered(kind: str, obj: Any, plugin: PluginRecord) -> str:
    """Check what a plugin registered; return its name.

    Raises
    ------
    PluginError
        Naming the plugin and its distribution, what was expected and what came.
    """
    base, members = _REQUIRED[kind]
    hook = f"register_{kind}s"
    where = f"{plugin.label}, in {hook}"
    expected = f"expected an instance of a subclass of diffclust.{base.__name__}"
    if isinstance(obj, type):
        fix = f"register({obj.__name__}())" if issubclass(obj, base) else f"make {obj.__name__} subclass diffclust.{base.__name__}"
        raise PluginError(f"{where}: registered the class {obj.__name__} itself; {expected}: {fix}.")
    missing = [m for m in members if not hasattr(obj, m)]
    if missing:
        raise PluginError(
            f"{where}: registered {_describe(obj)} (a {type(obj).__name__}), which lacks "
            f"{', '.join(missing)}; {expected}."
        )
    wrong = []
    for member, kind_of in members.items():
        value = getattr(obj, member)
        if kind_of == "callable" and not callable(value):
            wrong.append(f"{member} is {type(value).__name__}, expected a method")
        elif isinstance(kind_of, type) and not isinstance(value, kind_of):
            wrong.append(f"{member} is {value!r} ({type(value).__name__}), expected a {kind_of.__name__}")
    if wrong:
        raise PluginError(f"{where}: {kind} {type(obj).__name__}: {'; '.join(wrong)}.")
    name = obj.name
    if not name:
        raise PluginError(
            f"{where}: {kind} class {type(obj).__name__} has no name; set the class attribute "
            f"name = \"my-{kind}\" (kebab-case, unique)."
        )
    if not KEBAB_CASE.match(name):
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        raise PluginError(
            f"{where}: {kind} {type(obj).__name__} is named {name!r}; names are kebab-case (lower-case "
            f"letters, digits and single dashes, like 'torch-ste'): try {suggestion!r}."
        )
    method = _WORK_METHOD[kind]
    if isinstance(obj, base) and getattr(type(obj), method) is getattr(base, method):
        raise PluginError(
            f"{where}: {kind} {name!r} ({type(obj).__name__}) does not implement {method}(); "
            f"define {method}() in the class (see diffclust.{base.__name__}.{method})."
        )
    return name


def build_registry(plugins_dirs: list[Path] | None = None) -> Registry:
    """Load the plugins and collect what they register. Never raises for a bad plugin.

    Each problem is a line in :attr:`Registry.problems`, naming the plugin (and its
    distribution), what was expected and what came. A malformed object or a name already
    taken is skipped; the plugin's other objects, and every other plugin, still register.
    """
    plugin_set = PluginSet(plugins_dirs)
    registry = Registry(plugins=plugin_set)
    for record in plugin_set.failed:
        registry.problems.append(record.load_problem())
    for record in plugin_set.records.values():
        registry.problems.extend(record.warnings)
    if plugin_set.unknown_allowed:
        installed = sorted(r.name for r in plugin_set.records.values() if r.source == "entry point")
        registry.problems.append(
            f"{ENV_LOAD_PLUGINS} names {', '.join(map(repr, plugin_set.unknown_allowed))}, which no installed "
            f"plugin provides (loaded: {', '.join(installed) or 'none'}; `diffclust plugins` lists entry-point names)."
        )
    for kind, hook_name, table in (
        ("backend", "register_backends", registry.backends),
        ("dataset", "register_datasets", registry.datasets),
    ):
        caller = getattr(plugin_set.manager.hook, hook_name)
        # Call each implementation on its own, so that a duplicate or an exception is
        # pinned on the plugin that caused it and the other plugins still register. In
        # loading order (built-ins, entry points, loose files): the first name wins, so an
        # installed plugin can never take a built-in's name over.
        for impl in caller.get_hookimpls():
            record = plugin_set.record_of(impl.plugin)

            def register(obj: Any, _kind=kind, _table=table, _record=record) -> None:
                try:
                    name = check_registered(_kind, obj, _record)
                    if name in _table:
                        first = _table[name].plugin
                        raise PluginError(
                            f"{_kind} name {name!r} is registered twice: first by {first.label}, then by "
                            f"{_record.label}, whose {_kind} was skipped. Rename one, or uninstall one of them."
                        )
                except PluginError as exc:
                    registry.problems.append(str(exc))
                    return
                _table[name] = Entry(obj, _record)

            try:
                impl.function(**{arg: register for arg in impl.argnames if arg == "register"})
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

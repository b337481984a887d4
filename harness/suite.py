"""Suites: TOML files that define a grid of cells, and the ``NAME:key=value`` specs of the CLI.

A suite file::

    [suite]
    name = "quick"
    seeds = 3              # 3 means seeds 0, 1, 2; or a list [0, 7, 42]
    repeats = 2            # steady-state timed calls after the first (warm-up) call
    threads = 2            # BLAS/OpenMP/framework threads per cell; 0 = all cores
    timeout_s = 600        # hard limit per cell (process and dask executors); 0 = none
    memory_limit_mb = 4096 # optional: limit on a worker's resident memory per cell
    init = "k-means++"     # or "random"
    devices = ["cpu"]

    [[backend]]
    name = "em"
    params = { max_iter = 300 }

    [[dataset]]
    name = "blobs"
    params = { n = 20000, d = 16, centers = 10 }
    grid = { n = [1000, 10000] }   # optional: one cell per value (product over keys)

A cell is one backend (with params) x dataset (with params and k) x device x seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from diffclust.errors import SuiteError, UnknownNameError
from diffclust.init import INIT_METHODS

SUITE_KEYS = {"name", "description", "seeds", "repeats", "threads", "timeout_s", "init", "devices", "memory_limit_mb"}
ENTRY_KEYS = {"name", "params", "grid", "label"}


@dataclass(frozen=True)
class ComponentSpec:
    """A backend or dataset by name, with parameter overrides (not yet merged with defaults)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    """A resolved suite: what to run and how."""

    name: str
    backends: list[ComponentSpec]
    datasets: list[ComponentSpec]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    repeats: int = 2
    threads: int = 0
    timeout_s: float = 600.0
    init: str = "k-means++"
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    memory_limit_mb: float | None = None
    description: str = ""

    def to_toml_dict(self) -> dict[str, Any]:
        suite = {k: v for k, v in asdict(self).items() if k not in ("backends", "datasets") and v is not None}
        return {
            "suite": suite,
            "backend": [{"name": b.name, "params": dict(b.params)} for b in self.backends],
            "dataset": [{"name": d.name, "params": dict(d.params)} for d in self.datasets],
        }


@dataclass(frozen=True)
class Cell:
    """One unit of work: fully resolved, so a worker needs nothing else to run it."""

    backend: str
    backend_version: str
    backend_params: dict[str, Any]
    dataset: str
    dataset_params: dict[str, Any]
    k: int | None
    device: str
    seed: int
    init: str
    repeats: int
    threads: int
    dataset_label: str = ""

    @property
    def key(self) -> str:
        """Identifies the cell across runs (``--resume``): changes when anything that can
        change its result changes, the backend's version and params included."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("repeats", "dataset_label")}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.backend} · {self.dataset_label or self.dataset} · {self.device} · seed {self.seed}"


def describe(name: str, params: dict[str, Any], k: int | None = None) -> str:
    """``blobs(n=1000,d=2)`` style label of a component with its non-default params."""
    shown = dict(params)
    if k is not None:
        shown["k"] = k
    return name + ("(" + ",".join(f"{key}={value}" for key, value in shown.items()) + ")" if shown else "")


# ------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A CLI value as TOML would read it (``3``, ``0.1``, ``true``, ``[1, 2]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_spec(text: str, what: str) -> ComponentSpec:
    """Parse ``NAME`` or ``NAME:key=value,key=value``."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise SuiteError(f"{what} spec {text!r} has no name; write NAME or NAME:key=value,...")
    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SuiteError(f"{what} spec {text!r}: {item!r} is not key=value; write {name}:key=value,...")
        params[key.strip()] = parse_value(value.strip())
    return ComponentSpec(name, params)


def builtin_suites() -> dict[str, Path]:
    """The suites shipped inside the package, by name."""
    folder = resources.files("diffclust") / "suites"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def load_suite(name_or_path: str) -> Suite:
    """A shipped suite by name (``quick``) or a suite file by path."""
    path = Path(name_or_path)
    shipped = builtin_suites()
    if name_or_path in shipped and not path.exists():
        path = shipped[name_or_path]
    elif not path.exists():
        raise UnknownNameError(
            f"no suite {name_or_path!r}: not a file, and the shipped suites are {', '.join(sorted(shipped))}."
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"suite file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise SuiteError(f"cannot read suite file {path}: {exc}") from exc
    return suite_from_dict(data, source=str(path))


def suite_from_dict(data: dict[str, Any], source: str = "suite") -> Suite:
    header = data.get("suite", {})
    if not isinstance(header, dict):
        raise SuiteError(f"{source}: [suite] must be a table.")
    unknown = set(data) - {"suite", "backend", "dataset"}
    if unknown:
        raise SuiteError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; expected [suite], [[backend]], [[dataset]].")
    unknown = set(header) - SUITE_KEYS
    if unknown:
        raise SuiteError(f"{source}: unknown [suite] key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SUITE_KEYS))}.")
    backends = _entries(data.get("backend", []), "backend", source)
    datasets = _entries(data.get("dataset", []), "dataset", source)
    suite = Suite(name=str(header.get("name", Path(source).stem)), backends=backends, datasets=datasets)
    if "seeds" in header:
        suite.seeds = normalize_seeds(header["seeds"], source)
    for key, kind in (("repeats", int), ("threads", int), ("timeout_s", float), ("memory_limit_mb", float)):
        if key in header:
            value = header[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise SuiteError(f"{source}: {key} must be a non-negative number, got {value!r}.")
            setattr(suite, key, kind(value))
    if "init" in header:
        if header["init"] not in INIT_METHODS:
            raise SuiteError(f"{source}: init must be one of {', '.join(INIT_METHODS)}, got {header['init']!r}.")
        suite.init = header["init"]
    if "devices" in header:
        suite.devices = normalize_devices(header["devices"], source)
    suite.description = str(header.get("description", ""))
    return suite


def _entries(raw: Any, what: str, source: str) -> list[ComponentSpec]:
    if not isinstance(raw, list):
        raise SuiteError(f"{source}: [[{what}]] must be an array of tables.")
    specs = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "name" not in entry:
            raise SuiteError(f"{source}: {what} #{i + 1} needs a name (name = \"...\").")
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise SuiteError(f"{source}: {what} {entry['name']!r} has unknown key(s) {', '.join(sorted(unknown))}; use params = {{...}} or grid = {{...}}.")
        params = dict(entry.get("params", {}))
        grid = entry.get("grid", {})
        if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
            raise SuiteError(f"{source}: {what} {entry['name']!r}: grid maps each key to a non-empty list.")
        keys = list(grid)
        for values in itertools.product(*(grid[key] for key in keys)) if keys else [()]:
            specs.append(ComponentSpec(str(entry["name"]), {**params, **dict(zip(keys, values))}))
    return specs


def normalize_seeds(value: Any, source: str = "--seeds") -> list[int]:
    if isinstance(value, bool):
        raise SuiteError(f"{source}: seeds must be a count or a list of integers, got {value!r}.")
    if isinstance(value, int):
        if value < 1:
            raise SuiteError(f"{source}: seeds must be at least 1, got {value}.")
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        return list(value)
    raise SuiteError(f"{source}: seeds must be a count or a list of integers, got {value!r}.")


def normalize_devices(value: Any, source: str = "--device") -> list[str]:
    devices = [value] if isinstance(value, str) else value
    if not isinstance(devices, list) or not devices or not all(isinstance(d, str) for d in devices):
        raise SuiteError(f"{source}: devices must be a list like [\"cpu\", \"cuda:0\"], got {value!r}.")
    return [normalize_device(d) for d in devices]


def normalize_device(device: str) -> str:
    device = device.strip().lower()
    return "cuda:0" if device in ("cuda", "gpu") else device


# ------------------------------------------------------------------------------------
# Resolution against the registry
# ------------------------------------------------------------------------------------


def coerce_params(overrides: dict[str, Any], defaults: dict[str, Any], where: str, extra_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Merge overrides into defaults, checking names and types; name the key and the fix."""
    unknown = [key for key in overrides if key not in defaults and key not in extra_keys]
    if unknown:
        known = ", ".join(sorted([*defaults, *extra_keys])) or "none"
        raise SuiteError(f"{where}: unknown parameter(s) {', '.join(unknown)}. Known: {known}.")
    merged = dict(defaults)
    for key, value in overrides.items():
        if key in defaults:
            merged[key] = _coerce(value, defaults[key], f"{where}: parameter {key}")
        else:
            merged[key] = value
    return merged


def _coerce(value: Any, default: Any, where: str) -> Any:
    if default is None or value is None:
        return value
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        return value if isinstance(value, str) else str(value)
    else:
        return value
    raise SuiteError(f"{where} expects {kind.__name__} (default {default!r}), got {value!r}.")


def expand(suite: Suite, registry) -> list[Cell]:
    """Check every name and parameter against the registry and list the cells.

    Raises
    ------
    UnknownNameError, SuiteError, DataError
        Before anything runs, naming the bad backend, dataset, parameter or file.
    """
    if not suite.backends:
        raise SuiteError(f"suite {suite.name!r} has no backends; add [[backend]] entries or pass -b NAME.")
    if not suite.datasets:
        raise SuiteError(f"suite {suite.name!r} has no datasets; add [[dataset]] entries or pass -d NAME.")
    datasets = []
    for spec in suite.datasets:
        dataset = registry.dataset(spec.name)
        params = coerce_params(spec.params, dataset.params, f"dataset {spec.name!r}", extra_keys=("k",))
        k = params.pop("k", None)
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise SuiteError(f"dataset {spec.name!r}: k must be a positive integer, got {k!r}.")
        dataset.check(**params)
        changed = {key: value for key, value in params.items() if dataset.params.get(key) != value}
        datasets.append((spec.name, params, k, describe(spec.name, changed, k)))
    backends = []
    for spec in suite.backends:
        backend = registry.backend(spec.name)
        params = coerce_params(spec.params, backend.params, f"backend {spec.name!r}")
        backend.check_params(params)
        backends.append((backend, params))
    threads = suite.threads or (os.cpu_count() or 1)
    cells = []
    for (name, dparams, k, label), device, (backend, bparams), seed in itertools.product(datasets, suite.devices, backends, suite.seeds):
        cells.append(
            Cell(
                backend=backend.name, backend_version=str(backend.version), backend_params=bparams,
                dataset=name, dataset_params=dparams, k=k, device=device, seed=int(seed),
                init=suite.init, repeats=suite.repeats, threads=threads, dataset_label=label,
            )
        )
    return cells


def with_overrides(suite: Suite, *, backends: list[str] | None = None, datasets: list[str] | None = None,
                   devices: list[str] | None = None, seeds: int | None = None, repeats: int | None = None,
                   timeout_s: float | None = None, threads: int | None = None,
                   memory_limit_mb: float | None = None, init: str | None = None) -> Suite:
    """The suite with the command line's choices applied."""
    changes: dict[str, Any] = {}
    if init is not None:
        if init not in INIT_METHODS:
            raise SuiteError(f"--init must be one of {', '.join(INIT_METHODS)}, got {init!r}.")
        changes["init"] = init
    if backends:
        changes["backends"] = [parse_spec(b, "backend") for b in backends]
    if datasets:
        changes["datasets"] = [parse_spec(d, "dataset") for d in datasets]
    if devices:
        changes["devices"] = normalize_devices(list(devices))
    if seeds is not None:
        changes["seeds"] = normalize_seeds(seeds)
    if repeats is not None:
        changes["repeats"] = repeats
    if timeout_s is not None:
        changes["timeout_s"] = timeout_s
    if threads is not None:
        changes["threads"] = threads
    for option, value in (("--timeout", timeout_s), ("--memory-limit", memory_limit_mb)):
        if value is not None and value < 0:
            raise SuiteError(f"{option} must be a non-negative number (0 for none), got {value!r}.")
    if memory_limit_mb is not None:
        changes["memory_limit_mb"] = memory_limit_mb or None
    return replace(suite, **changes)

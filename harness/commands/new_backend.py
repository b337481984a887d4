"""``diffclust new-backend NAME``: write a plugin package that passes its own tests.

The package is made from the templates shipped in ``diffclust/templates/backend/``:
``pyproject.toml`` with the ``diffclust`` entry point, a backend module with a simple
working method (Lloyd in numpy, the straight-through estimator in torch or JAX) whose
comments explain the contract, tests that run the conformance checks, and a README.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from diffclust import __version__
from diffclust.cli import app, err
from diffclust.errors import DiffclustError
from diffclust.registry import KEBAB_CASE


class Framework(str, enum.Enum):
    numpy = "numpy"
    torch = "torch"
    jax = "jax"


#: Per framework: what the package depends on besides diffclust, and the method it starts as.
_FRAMEWORKS = {
    Framework.numpy: ((), "Lloyd's algorithm (hard EM)"),
    Framework.torch: (("torch>=2.1",), "straight-through k-means (STE) with Adam and a Lloyd polish"),
    Framework.jax: (("jax>=0.4.20", "optax>=0.1.7"), "straight-through k-means (STE) with optax's Adam and a Lloyd polish"),
}


@dataclass(frozen=True)
class Scaffold:
    """Names derived from a backend's name, as the templates use them."""

    name: str  # my-kmeans
    framework: Framework

    @property
    def dist(self) -> str:
        return f"diffclust-{self.name}"

    @property
    def module(self) -> str:
        return "diffclust_" + self.name.replace("-", "_")

    @property
    def entry_point(self) -> str:
        return self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-")) + "Backend"

    def substitutions(self) -> dict[str, str]:
        extra, method = _FRAMEWORKS[self.framework]
        minor = ".".join(__version__.split(".")[:2])
        dependencies = [f"diffclust>={minor}", *extra]
        return {
            "name": self.name,
            "framework": self.framework.value,
            "dist": self.dist,
            "module": self.module,
            "entry_point": self.entry_point,
            "class_name": self.class_name,
            "method": method,
            "dependencies": ", ".join(f'"{d}"' for d in dependencies),
        }

    def files(self) -> dict[str, str]:
        """Output path (relative to the package folder) -> template file name."""
        return {
            "pyproject.toml": "pyproject.toml.tmpl",
            "README.md": "README.md.tmpl",
            f"{self.module}/__init__.py": "__init__.py.tmpl",
            f"{self.module}/backend.py": f"backend_{self.framework.value}.py.tmpl",
            "tests/test_backend.py": "test_backend.py.tmpl",
        }


def check_name(name: str) -> None:
    """Refuse a name diffclust would refuse, or one an installed backend already has."""
    if not KEBAB_CASE.match(name):
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "my-backend"
        raise DiffclustError(
            f"backend name {name!r} is not kebab-case (lower-case letters, digits and single "
            f"dashes); try {suggestion!r}."
        )
    if not name[0].isalpha():
        raise DiffclustError(f"backend name {name!r} must start with a letter (it becomes a Python module name).")
    from diffclust.registry import get_registry

    registry = get_registry()
    if name in registry.backends:
        owner = registry.backends[name].plugin.label
        raise DiffclustError(f"backend name {name!r} is taken by {owner}; choose another name.")


def write_package(name: str, framework: Framework | str = Framework.numpy, parent: Path = Path(".")) -> Path:
    """Write the plugin package for backend ``name`` into ``parent/diffclust-NAME``; return its folder.

    Raises
    ------
    DiffclustError
        When the name is unusable or the folder exists.
    """
    framework = Framework(framework)
    check_name(name)
    scaffold = Scaffold(name, framework)
    root = Path(parent) / scaffold.dist
    if root.exists():
        raise DiffclustError(f"{root} already exists; remove it, or write elsewhere with --dir.")
    templates = resources.files("diffclust") / "templates" / "backend"
    values = scaffold.substitutions()
    rendered = {}
    for relative, template in scaffold.files().items():
        text = (templates / template).read_text(encoding="utf-8")
        rendered[relative] = string.Template(text).substitute(values)
    for relative, text in rendered.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@app.command("new-backend")
def new_backend(
    name: Annotated[str, typer.Argument(help="The backend's name, kebab-case (my-kmeans).")],
    framework: Annotated[Framework, typer.Option("--framework", "-f", help="What the starting implementation is written in.")] = Framework.numpy,
    parent: Annotated[Path, typer.Option("--dir", help="Folder to create the package in (as DIR/diffclust-NAME).", file_okay=False)] = Path("."),
) -> None:
    """Write a ready plugin package for a new backend: it passes its own tests."""
    root = write_package(name, framework, parent)
    scaffold = Scaffold(name, Framework(framework))
    files = "\n".join(f"  {root / relative}" for relative in scaffold.files())
    err.print(
        f"Wrote the {scaffold.framework.value} backend {name!r} as the package {scaffold.dist}:\n{files}\n\n"
        f"Next:\n"
        f"  cd {root}\n"
        f"  pip install -e \".[test]\"\n"
        f"  diffclust list             # shows {name}\n"
        f"  diffclust check {name}\n"
        f"  pytest\n"
        f"Then change fit() in {scaffold.module}/backend.py; docs/plugins.md has the contract.",
        highlight=False, markup=False, soft_wrap=True,
    )

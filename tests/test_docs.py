"""docs/plugins.md is executed, and covers every hook.

The page's conventions, which these tests enforce:

- Every ```python block runs, in page order: the test of a block first runs the blocks
  before it in the same namespace and folder, so a block may use what an earlier one
  defined.
- A block whose first line is ``# file: NAME.py`` is also written to ``NAME.py``. When it
  has a ``@diffclust.hookimpl`` it is a plugin file, and must load through
  ``--plugins-dir`` without any problem and register something; when its name starts
  with ``test_`` it is run with pytest.
- Every hook in :mod:`diffclust.hookspecs` has a ``### `hook_name``` section under
  "Hook reference" with a runnable block that implements it, and a test of its own: a
  test function named ``test_hook_<hook name>`` or ``test_hook_<hook name>_<anything>``
  anywhere under ``tests/``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from diffclust.plugins import hook_names
from diffclust.registry import build_registry

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
FILE_LINE = re.compile(r"^# file: (?P<name>[\w.]+\.py)\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced code block of the page."""

    line: int  # 1-based line of its first code line
    lang: str
    code: str
    heading: str  # the nearest heading above it, without the #s

    @property
    def filename(self) -> str | None:
        match = FILE_LINE.match(self.code.splitlines()[0]) if self.code else None
        return match["name"] if match else None


def parse_blocks(text: str) -> list[Block]:
    blocks, heading, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        fence = FENCE.match(line)
        if fence:
            body, j = [], i + 1
            while not re.match(r"^\s*```\s*$", lines[j]):
                body.append(lines[j])
                j += 1
            blocks.append(Block(i + 2, fence["lang"], textwrap.dedent("\n".join(body)) + "\n", heading))
            i = j
        i += 1
    return blocks


BLOCKS = parse_blocks(PAGE.read_text())
PYTHON = [b for b in BLOCKS if b.lang == "python"]


def sections(text: str) -> dict[str, str]:
    """Heading -> the text under it, up to the next heading of any level."""
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.M)
    return {parts[i].lstrip("#").strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def run_block(block: Block, namespace: dict, folder: Path) -> None:
    if block.filename:
        (folder / block.filename).write_text(block.code)
    exec(compile(block.code, f"{PAGE}:{block.line}", "exec"), namespace)  # noqa: S102 - the docs are ours


@pytest.fixture
def doc_folder(tmp_path, monkeypatch):
    """An empty working folder on sys.path; file blocks' modules are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for block in PYTHON:
        if block.filename:
            sys.modules.pop(block.filename[:-3], None)


@pytest.mark.parametrize("index", range(len(PYTHON)), ids=[f"line{b.line}" for b in PYTHON])
def test_docs_python_block_runs(index, doc_folder):
    block = PYTHON[index]
    namespace: dict = {"__name__": "docs_plugins_md"}
    for earlier in PYTHON[:index]:
        run_block(earlier, namespace, doc_folder)
    run_block(block, namespace, doc_folder)

    if block.filename and "@diffclust.hookimpl" in block.code:
        plugins = doc_folder / "plugins"
        plugins.mkdir()
        path = plugins / block.filename
        path.write_text(block.code)
        registry = build_registry([plugins])
        assert [p for p in registry.problems if block.filename in p] == []
        registered = [name for table in (registry.backends, registry.datasets)
                      for name, entry in table.items() if entry.plugin.name == str(path)]
        assert registered, f"{block.filename} registered nothing"

    if block.filename and block.filename.startswith("test_"):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", block.filename],
            cwd=doc_folder, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(doc_folder), os.environ.get("PYTHONPATH", "")])},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        if "expected_failures" in block.code:
            assert "xfailed" in result.stdout, result.stdout


def test_tutorial_backend_runs_in_a_suite_and_matches_em(doc_folder, cli):
    """The tutorial's claim: from the same centroids, tiny-lloyd reaches em's inertia on digits."""
    (tutorial,) = [b for b in PYTHON if b.filename == "tiny_lloyd.py"]
    plugins = doc_folder / "plugins"
    plugins.mkdir()
    (plugins / "tiny_lloyd.py").write_text(tutorial.code)
    result = cli("run", "--plugins-dir", str(plugins), "-b", "tiny-lloyd", "-b", "em", "-d", "digits",
                 "--seeds", "3", "--repeats", "0", "--threads", "1", "--out", str(doc_folder / "run"), "-q")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(doc_folder / "run" / "results.parquet")
    assert (rows["status"] == "ok").all()
    inertia = rows.pivot(index="seed", columns="backend", values="inertia")
    assert ((inertia["tiny-lloyd"] - inertia["em"]).abs() <= 1e-9 * inertia["em"]).all(), inertia


def test_docs_code_blocks_are_closed_and_tagged():
    text = PAGE.read_text()
    assert len(re.findall(r"^\s*```", text, flags=re.M)) == 2 * len(BLOCKS)
    assert {b.lang for b in BLOCKS} <= {"python", "bash", "toml"}, {b.lang for b in BLOCKS}


# -- every hook documented and tested ------------------------------------------------------


def hooks_without_docs(hooks: list[str], text: str) -> list[str]:
    """Hooks with no ``### `hook``` section holding a python block that implements it."""
    found = sections(text)
    missing = []
    for hook in hooks:
        body = found.get(f"`{hook}`", "")
        blocks = [b for b in parse_blocks(body) if b.lang == "python"]
        if not any(f"def {hook}(" in b.code for b in blocks):
            missing.append(hook)
    return missing


def hook_test_names(folder: Path) -> set[str]:
    """Names of the test functions under ``folder`` that start with ``test_hook_``."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_hook_"):
                names.add(node.name)
    return names


def hooks_without_tests(hooks: list[str], test_names: set[str]) -> list[str]:
    """Hooks no test is named after; a test counts for the longest hook name it matches."""
    covered = set()
    for test in test_names:
        matching = [h for h in hooks if test == f"test_hook_{h}" or test.startswith(f"test_hook_{h}_")]
        if matching:
            covered.add(max(matching, key=len))
    return [h for h in hooks if h not in covered]


def test_every_hook_has_a_section_with_a_runnable_example():
    hooks = hook_names()
    assert hooks, "no hooks found in diffclust.hookspecs"
    assert hooks_without_docs(hooks, PAGE.read_text()) == []


def test_every_hook_has_a_test_of_its_own():
    assert hooks_without_tests(hook_names(), hook_test_names(TESTS)) == []


def test_hook_coverage_catches_an_undocumented_or_untested_hook():
    text = PAGE.read_text()
    assert hooks_without_docs(["register_backends", "register_exporters"], text) == ["register_exporters"]
    tests = {"test_hook_register_backends_x", "test_hook_register_backends_extra_y"}
    assert hooks_without_tests(["register_backends", "register_backends_extra", "register_datasets"], tests) == ["register_datasets"]
    assert hooks_without_tests(["register_backends", "register_backends_extra"], {"test_hook_register_backends_extra_y"}) == ["register_backends"]


def test_every_conformance_check_is_described():
    import diffclust
    from diffclust.testing import all_checks

    class Differentiable(diffclust.Backend):
        name = "any"
        differentiable = True

    text = PAGE.read_text()
    names = [check.__name__ for check in all_checks(Differentiable())]
    assert [name for name in names if f"| `{name}` |" not in text] == []

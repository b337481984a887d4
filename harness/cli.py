"""The ``diffclust`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from diffclust.errors import DiffclustError

app = typer.Typer(
    help="diffclust: benchmark differentiable clustering (k-means as matrix factorization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Off a terminal (pipes, CI logs) rich would cut tables at 80 columns; give them room.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

PluginsDir = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--plugins-dir", exists=True, file_okay=False, dir_okay=True,
        help="Also load every plugin file (*.py, not _*.py) in this folder; repeat for several.",
    ),
]


def _dirs(plugins_dir: list[Path] | None) -> tuple[str, ...]:
    """Plugin folders as absolute paths, so worker processes in another folder find them too."""
    return tuple(str(p.resolve()) for p in plugins_dir or [])


def _report_plugin_problems(registry) -> None:
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/] {escape(problem)}", markup=True, highlight=False, soft_wrap=True)


@app.command("list")
def list_(plugins_dir: PluginsDir = None) -> None:
    """Backends (framework, devices here or why unavailable), datasets and suites."""
    from diffclust.registry import get_registry
    from diffclust.suite import builtin_suites, load_suite

    registry = get_registry(_dirs(plugins_dir))
    table = Table(title="Backends", title_justify="left")
    for column in ("name", "framework", "differentiable", "devices here", "plugin"):
        table.add_column(column)
    for name, entry in sorted(registry.backends.items()):
        backend = entry.obj
        try:
            reason = backend.unavailable_reason()
            devices = f"[red]unavailable: {escape(reason)}[/]" if reason else escape(", ".join(backend.devices()))
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the listing
            devices = f"[red]broken: devices() raised {escape(f'{type(exc).__name__}: {exc}')}[/]"
            registry.problems.append(f"backend {name!r} of {entry.plugin.label}: devices() raised {type(exc).__name__}: {exc}")
        table.add_row(name, backend.framework, "yes" if backend.differentiable else "no", devices, entry.plugin.name)
    out.print(table)
    table = Table(title="Datasets", title_justify="left")
    for column in ("name", "params (defaults)", "description"):
        table.add_column(column)
    for name, entry in sorted(registry.datasets.items()):
        params = ", ".join(f"{k}={v!r}" for k, v in entry.obj.params.items())
        table.add_row(name, params, entry.obj.description)
    out.print(table)
    table = Table(title="Suites", title_justify="left")
    table.add_column("name")
    table.add_column("description")
    for name, path in sorted(builtin_suites().items()):
        table.add_row(name, load_suite(str(path)).description)
    out.print(table)
    _report_plugin_problems(registry)


@app.command()
def run(
    suite: Annotated[str, typer.Argument(help="A shipped suite name (quick, full, ...) or a suite TOML file.")] = "quick",
    backend: Annotated[Optional[list[str]], typer.Option("-b", "--backend", help="NAME[:key=value,...]; repeat for several. Replaces the suite's backends.")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option("-d", "--dataset", help="NAME[:key=value,...]; repeat for several. Replaces the suite's datasets.")] = None,
    device: Annotated[Optional[list[str]], typer.Option("--device", help="cpu, cuda, cuda:1, ...; repeat for several.")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Number of seeds (0..N-1).")] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", help="Steady-state timed calls after the first call.")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="Threads per cell (0 = all cores).")] = None,
    init: Annotated[Optional[str], typer.Option("--init", help="Initial centroids: k-means++ (default) or random.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default results/<run-id>).")] = None,
    executor: Annotated[str, typer.Option("--executor", help="process (default: each cell in a worker process), dask, or local (in-process, for debugging).")] = "process",
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Per-cell timeout in seconds (0 = none); replaces the suite's timeout_s.")] = None,
    memory_limit: Annotated[Optional[float], typer.Option("--memory-limit", help="Per-cell limit on a worker's resident memory, in MB; replaces the suite's memory_limit_mb.")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="With --executor dask: join the Dask scheduler at tcp://HOST:PORT instead of starting a local cluster.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Run only the cells missing from --out.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any row of the run is error, timeout, crashed or invalid.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no table.")] = False,
    plugins_dir: PluginsDir = None,
) -> None:
    """Run a suite and print its comparison table."""
    from diffclust.registry import get_registry
    from diffclust.report import comparison_table, load_runs, render
    from diffclust.runner import run_suite
    from diffclust.suite import load_suite, with_overrides

    if resume and out_dir is None:
        raise DiffclustError("--resume needs --out DIR: the run folder to complete.")
    resolved = with_overrides(
        load_suite(suite), backends=backend, datasets=dataset, devices=device, seeds=seeds,
        repeats=repeats, timeout_s=timeout, threads=threads, memory_limit_mb=memory_limit, init=init,
    )
    _report_plugin_problems(get_registry(_dirs(plugins_dir)))
    summary = run_suite(resolved, out=out_dir, executor=executor, resume=resume,
                        executor_options={"scheduler": scheduler} if scheduler else None,
                        plugins_dirs=_dirs(plugins_dir), show_progress=not quiet)
    if not quiet:
        print(render(comparison_table(load_runs([summary.run_dir])), "md"))
    err.print(f"{summary.line()} → {summary.run_dir}", highlight=False)
    for message in summary.data_errors:
        err.print(f"[red]error:[/] {message}", highlight=False)
    if summary.data_errors:
        raise typer.Exit(2)
    if strict and summary.failed_in_run:
        raise typer.Exit(1)


@app.command()
def plugins(plugins_dir: PluginsDir = None) -> None:
    """Installed plugins: where they come from, their versions and hooks."""
    from diffclust.registry import get_registry

    registry = get_registry(_dirs(plugins_dir))
    table = Table(title="Plugins", title_justify="left")
    for column in ("plugin", "source", "distribution", "version", "hooks", "status"):
        table.add_column(column)
    for record in registry.plugins.records.values():
        status = f"[red]{escape(record.error)}[/]" if record.error else ("[yellow]warning[/]" if record.warnings else "ok")
        table.add_row(record.name, record.source, record.distribution or "", record.version or "",
                      ", ".join(record.hooks), status)
    out.print(table)
    _report_plugin_problems(registry)


# Commands defined in diffclust.commands.* attach themselves to ``app`` on import.
import diffclust.commands  # noqa: E402, F401


def main() -> None:
    """Entry point of the ``diffclust`` script: user errors are one line, not a traceback."""
    try:
        code = app(standalone_mode=False)
    except DiffclustError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted: finished rows are saved; rerun with --resume --out DIR to complete.")
        sys.exit(130)
    except Exception as exc:  # click's usage errors (typer >= 0.20 has its own copy of click)
        if _is_usage_error(exc):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


def _is_usage_error(exc: Exception) -> bool:
    import click

    kinds = tuple(k for k in (click.ClickException, getattr(typer, "TyperException", None)) if k is not None)
    return isinstance(exc, kinds) and callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code")


if __name__ == "__main__":
    main()

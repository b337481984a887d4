"""``diffclust check BACKEND``: the conformance suite against one backend."""

from __future__ import annotations

from typing import Annotated

import typer

from diffclust.cli import PluginsDir, _dirs, _report_plugin_problems, app, out

MARKS = {"passed": "[green]passed [/]", "failed": "[red]FAILED [/]", "xfailed": "[yellow]xfailed[/]",
         "xpassed": "[yellow]XPASSED[/]", "skipped": "[yellow]skipped[/]"}


@app.command()
def check(
    backend: Annotated[str, typer.Argument(help="The backend's name, as `diffclust list` shows it.")],
    plugins_dir: PluginsDir = None,
) -> None:
    """Run the conformance suite (diffclust.testing) against one backend: one line per
    check; exit status 1 when a check fails."""
    from diffclust.registry import get_registry
    from diffclust.testing import run_checks

    registry = get_registry(_dirs(plugins_dir))
    _report_plugin_problems(registry)
    target = registry.backend(backend)  # unknown: UnknownNameError, exit status 2
    reason = target.unavailable_reason()
    if reason:
        # markup=False: a reason such as "pip install 'diffclust[torch]'" is not rich markup.
        out.print(f"{backend} cannot run here: {reason}; its checks are skipped.", highlight=False, markup=False)
    results = []
    for result in run_checks(target):
        results.append(result)
        out.print(f"{MARKS[result.status]} {result.name} ({result.duration_s:.2f} s)", highlight=False)
        if result.status in ("failed", "xfailed", "xpassed") and result.message:
            out.print("    " + result.message.strip().replace("\n", "\n    "), highlight=False, markup=False)
    counts = {status: sum(r.status == status for r in results) for status in MARKS}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    out.print(f"{backend}: {summary}", highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)

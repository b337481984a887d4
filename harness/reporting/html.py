"""One self-contained HTML page: the comparison table, the figures, failures, environments.

Nothing is fetched when the page opens: the figures are embedded as base64 SVG images
and the styles are inline, so the file can be mailed, archived or attached to a review.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pandas as pd
from markupsafe import Markup

from diffclust.errors import DiffclustError
from diffclust.reporting.figures import figure_bytes
from diffclust.reporting.runs import Runs
from diffclust.reporting.scaling import CAPTION as SCALING_CAPTION, column_formats
from diffclust.reporting.tables import ComparisonTable, to_html as table_html

FIGURE_CAPTIONS = {
    "scaling": "Time against n on log-log axes; dashed: the least-squares fit t ∝ n^b, b in the legend.",
    "convergence": "Objective against fit time, from the traces (one line per seed); dashed grey: the best inertia known.",
    "quality": "Gap to the best known inertia and ARI per backend; error bars over seeds.",
    "profile": "Performance profile (Dolan and Moré): the fraction of problems (data × seed) each backend solves "
               "within a factor τ of the fastest.",
}

ENVIRONMENT_KEYS = ("diffclust_version", "git_commit", "python", "platform", "cpu_model", "cpu_count",
                    "memory_total_gb", "gpus", "executor", "suite", "started_utc", "finished_utc")

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 75rem; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e4e4; text-align: right; vertical-align: top; }
th.row_heading, th.index_name { text-align: left; font-weight: normal; }
thead th { border-bottom: 2px solid #444; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.85rem; padding-top: 0.4rem; max-width: 60rem; }
td.failed { color: #8a8a8a; font-style: italic; }
table.failures td, table.failures th { text-align: left; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.85rem; }
.notes { color: #7a5a00; } .meta { color: #555; font-size: 0.9rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15rem 1rem; font-size: 0.85rem; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{{ runs|length }} run{{ "s" if runs|length != 1 }}: {{ runs|join(", ") }} · {{ rows }} rows · generated {{ generated }}</p>
{% for note in notes %}<p class="notes">{{ note }}</p>{% endfor %}
<h2 id="table">Comparison</h2>
{{ table }}
{% if scaling %}
<h2 id="scaling">Time against n</h2>
{{ scaling }}
<p class="notes">{{ scaling_caption }}</p>
{% endif %}
<h2 id="figures">Figures</h2>
{% for name, image, caption in figures %}
<figure id="figure-{{ name }}"><img src="data:image/svg+xml;base64,{{ image }}" alt="{{ name }} figure"><figcaption><b>{{ name }}</b>. {{ caption }}</figcaption></figure>
{% endfor %}
{% for name, reason in skipped.items() %}<p class="notes">No {{ name }} figure: {{ reason }}.</p>{% endfor %}
{% if failures %}
<h2 id="failures">Failed cells</h2>
{{ failures }}
{% endif %}
<h2 id="environment">Environment</h2>
{% for run, env in environments.items() %}
<h3>{{ run }}</h3>
<dl>{% for key, value in env.items() %}<dt>{{ key }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
{% endfor %}
</body>
</html>
"""


def _jinja():
    try:
        import jinja2
    except ImportError as exc:
        raise DiffclustError("the HTML report needs jinja2; install it with `pip install 'diffclust[plot]'`.") from exc
    return jinja2


def _environment_summary(env: dict) -> dict:
    summary = {key: env[key] for key in ENVIRONMENT_KEYS if env.get(key) not in (None, [], {})}
    packages = {name: version for name, version in (env.get("packages") or {}).items() if version}
    if packages:
        summary["packages"] = ", ".join(f"{name} {version}" for name, version in packages.items())
    return summary


def failures_table(results: pd.DataFrame) -> pd.DataFrame:
    """Failed rows with the error a person can act on."""
    failed = results[results["status"] != "ok"]
    columns = [c for c in ("backend_label", "dataset_label", "device", "seed", "status", "error", "run") if c in failed]
    return failed[columns].rename(columns={"backend_label": "backend", "dataset_label": "dataset"})


def scaling_html(scaling: pd.DataFrame) -> str:
    """The exponents table (:func:`diffclust.reporting.scaling.scaling_table`) as HTML."""
    styler = scaling.style.hide(axis="index").format(column_formats(scaling))
    return styler.to_html(table_attributes='class="scaling"')


def html_report(runs: Runs, table: ComparisonTable, figures: dict[str, object], skipped: dict[str, str] | None = None,
                title: str = "diffclust report", scaling: pd.DataFrame | None = None) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    jinja2 = _jinja()
    images = [(name, base64.b64encode(figure_bytes(figure, "svg")).decode("ascii"), FIGURE_CAPTIONS.get(name, ""))
              for name, figure in figures.items()]
    failures = failures_table(runs.results)
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(TEMPLATE)
    return template.render(
        title=title,
        runs=sorted(runs.results["run"].unique()),
        rows=len(runs.results),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        notes=[*runs.notes, *table.notes],
        table=Markup(table_html(table)),
        figures=images,
        skipped=skipped or {},
        scaling_caption=SCALING_CAPTION,
        scaling=Markup(scaling_html(scaling)) if scaling is not None and len(scaling) else "",
        failures=Markup(failures.to_html(index=False, classes="failures", border=0, na_rep="")) if len(failures) else "",
        environments={run: _environment_summary(env) for run, env in runs.environments.items()},
    )

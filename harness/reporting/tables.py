"""Comparison tables: seeds aggregated per cell, the best per column bold, a mark when it is
significantly better than the runner-up, and failures shown by their status.

:func:`build_table` decides the content once; the renderers (:func:`to_markdown`,
:func:`to_latex`, :func:`to_html`, :func:`to_csv`) only lay it out, with pandas doing the
formatting (``DataFrame.to_markdown``, ``Styler.to_latex``, ``Styler.to_html``,
``DataFrame.to_csv``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from diffclust.errors import DiffclustError
from diffclust.reporting.aggregate import aggregate, centre_and_spread, check_aggregation, complete_dimensions
from diffclust.reporting.metricinfo import METRICS, metric_info
from diffclust.reporting.runs import display_name, resolve_dimension
from diffclust.reporting.significance import check_test, describe_test, paired_test

DEFAULT_METRICS = ("inertia", "rel_gap", "ari", "nmi", "wall_s")
DEFAULT_ROWS = ("dataset", "backend")
#: The mark after a value that is significantly better than the runner-up.
MARK = "†"
#: A cell no run holds (merged runs that did not all run the same grid).
NOT_RUN = "not run"
#: A metric the data cannot have (ARI without ground-truth labels).
UNDEFINED = "n/a"


@dataclass
class ComparisonTable:
    """A comparison table's content, before layout.

    ``cells`` is long: one row per (``rows`` + ``cols`` group, metric) with the seed
    statistics (see :func:`diffclust.reporting.aggregate.aggregate`), ``text`` (what the
    cell shows), ``best``, ``significant`` and the test's ``p_value`` / ``n_pairs``.
    """

    cells: pd.DataFrame
    rows: list[str]
    cols: list[str]
    metrics: list[str]
    agg: str = "mean-std"
    test: str = "wilcoxon"
    alpha: float = 0.05
    compare: str | None = "backend_label"
    notes: list[str] = field(default_factory=list)

    def wide(self, column: str, fill=NOT_RUN) -> pd.DataFrame:
        """``column`` of ``cells`` laid out: row dims as the index, (metric, col dims...) as columns."""
        frame = self.cells.set_index([*self.rows, "metric", *self.cols])[column]
        wide = frame.unstack(["metric", *self.cols], sort=False)
        if self.cols:
            # Column groups in the order of _ordered (numbers ascending), not as first met
            # in the rows: a value that only some rows have would otherwise come first.
            groups = _ordered(self.cells, list(self.cols))[list(self.cols)].drop_duplicates()
            present = set(wide.columns)
            keys = [key for m in self.metrics for group in groups.itertuples(index=False, name=None)
                    if (key := (m, *group)) in present]
            wide = wide.reindex(columns=pd.MultiIndex.from_tuples(keys, names=wide.columns.names))
        else:
            wide = wide.reindex(columns=self.metrics)
        wide = wide.astype(object).where(wide.notna(), fill)
        wide.index.names = [display_name(n) for n in wide.index.names]
        wide.columns.names = [None if n == "metric" else display_name(n) for n in wide.columns.names]
        return wide

    @property
    def typical_seeds(self) -> int:
        return int(self.cells["seeds"].mode().iloc[0]) if len(self.cells) else 0

    def caption(self, latex: bool = False) -> str:
        """What the numbers are, what bold and the mark mean, and what a status cell means."""
        pm, mark = (r"$\pm$", r"$^{\dagger}$") if latex else ("±", MARK)
        name = _latex_identifier if latex else (lambda text: text)
        n = self.typical_seeds
        centre = f"Mean {pm} standard deviation" if self.agg == "mean-std" else "Median [interquartile range]"
        parts = [f"{centre} over {n} seed{'s' if n != 1 else ''} per cell."]
        directed = [m for m in self.metrics if metric_info(m).better]
        if self.compare and directed and self.cells["best"].any():
            lower = [name(m) for m in directed if metric_info(m).better == "lower"]
            higher = [name(m) for m in directed if metric_info(m).better == "higher"]
            ways = "; ".join(filter(None, [f"lower is better for {', '.join(lower)}" if lower else "",
                                           f"higher for {', '.join(higher)}" if higher else ""]))
            bold = r"\textbf{Bold}" if latex else "Bold"
            parts.append(f"{bold}: the best {display_name(self.compare)} {self._where()} ({ways}); "
                         "only cells where every seed succeeded compete.")
            if self.test != "none":
                parts.append(f"{mark}: significantly better than the runner-up, "
                             f"{describe_test(self.test, self.alpha, n)}.")
        texts = set(self.cells["text"])
        if UNDEFINED in texts:
            parts.append(f"{UNDEFINED}: not defined for that data (ari and nmi need ground-truth labels).")
        if (self.cells["ok"] == 0).any():
            parts.append("A status (error, timeout, crashed, invalid, unavailable) in place of a number: no seed succeeded.")
        partial = self.cells.loc[self.cells["status"] == "partial", "failures"]
        if len(partial):
            parts.append(f"({partial.iloc[0]}) and the like: seeds that failed, left out of the statistics.")
        return " ".join(parts)

    def _where(self) -> str:
        """Where the contenders for bold sit: "in each column, per dataset", "in each row"."""
        others = [display_name(d) for d in self.rows if d != self.compare]
        if self.compare in self.cols:
            return "in each row" + (" and metric" if len(self.metrics) > 1 else "")
        return "in each column" + (f", per {' and '.join(others)}" if others else "")


def build_table(
    results: pd.DataFrame,
    metrics: Sequence[str] = DEFAULT_METRICS,
    rows: Sequence[str] = DEFAULT_ROWS,
    cols: Sequence[str] = (),
    agg: str = "mean-std",
    compare: str | None = "backend",
    test: str = "wilcoxon",
    alpha: float = 0.05,
) -> ComparisonTable:
    """Aggregate ``results`` (rows of one or more runs) into a comparison table.

    Parameters
    ----------
    results
        Rows as :func:`diffclust.reporting.runs.load_runs` gives them.
    metrics
        Metric columns, in order.
    rows, cols
        Dimensions (``backend``, ``dataset``, ``n``, ``d``, ``k``, ``device``, ``run``, any
        ``p_dataset_*``/``p_backend_*`` column) for the rows and, beside the metric, the
        columns. An identity dimension (dataset, backend, device, k, run) that varies
        inside a cell joins the rows, so only seeds are ever aggregated.
    agg
        ``mean-std`` or ``median-iqr``.
    compare
        The dimension whose values compete for bold (default ``backend``); ``None`` for
        no bold and no marks.
    test, alpha
        The paired test behind the mark (see :mod:`diffclust.reporting.significance`).
    """
    check_aggregation(agg)
    check_test(test, alpha)
    if not list(metrics):
        raise DiffclustError("no metrics to report; name at least one with --metric.")
    if results.empty:
        raise DiffclustError("the runs hold no rows; run a suite first.")
    row_dims = _dims(rows or DEFAULT_ROWS, results)
    col_dims = _dims(cols, results)
    overlap = set(row_dims) & set(col_dims)
    if overlap:
        raise DiffclustError(f"{', '.join(display_name(c) for c in overlap)} is in both --rows and --cols; put it in one.")
    added = complete_dimensions(results, row_dims, col_dims)
    notes = [f"{display_name(c)} varies within the cells asked for, so it was added to the rows." for c in added]
    row_dims = [*row_dims, *added]
    dims = [*row_dims, *col_dims]
    # A known metric no row has (every cell failed before scoring) is a column of failures.
    results = results.assign(**{m: np.nan for m in metrics if m not in results.columns and m in METRICS})
    ordered = _ordered(results, dims)
    cells = aggregate(ordered, dims, list(metrics))
    cells["text"] = [_cell_text(row, agg) for row in cells.to_dict("records")]
    compare_column = resolve_dimension(compare, results) if compare else None
    if compare_column is not None and compare_column not in dims:
        notes.append(f"{display_name(compare_column)} is in neither the rows nor the columns, so nothing is bold.")
        compare_column = None
    _mark_best(cells, dims, compare_column, agg, test, alpha)
    return ComparisonTable(cells=cells, rows=row_dims, cols=col_dims, metrics=list(metrics), agg=agg, test=test,
                           alpha=alpha, compare=compare_column, notes=notes)


def _dims(names: Sequence[str], results: pd.DataFrame) -> list[str]:
    columns = [resolve_dimension(name, results) for name in names]
    if len(set(columns)) != len(columns):
        raise DiffclustError(f"a dimension is named twice in {', '.join(names)}.")
    return columns


def _ordered(results: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Rows in the order groups should appear: numbers ascending, the rest as first met."""
    keys = []
    for dim in dims:
        column = results[dim]
        if column.dtype.kind in "fiu":
            keys.append(column.rank(method="dense").fillna(-1))
        else:
            first = {value: i for i, value in enumerate(pd.unique(column.astype(str)))}
            keys.append(column.astype(str).map(first))
    if not keys:
        return results
    order = np.lexsort([k.to_numpy() for k in reversed(keys)])
    return results.iloc[order]


def format_value(value: float, metric: str) -> str:
    """A number as the metric is written (``3.78%`` for rel_gap, ``0.547`` for ari...)."""
    spec = metric_info(metric).fmt
    return format(value, spec)


def _spread_spec(spec: str) -> str:
    """A spread needs fewer digits than its centre: ``,.6g`` becomes ``,.4g``."""
    match = re.fullmatch(r"(,?)\.(\d+)g", spec)
    return f"{match.group(1)}.{min(int(match.group(2)), 4)}g" if match else spec


def _cell_text(row: dict, agg: str) -> str:
    if row["ok"] == 0:
        return row["status"]
    if row["count"] == 0:
        return UNDEFINED
    metric = row["metric"]
    spread_spec = _spread_spec(metric_info(metric).fmt)
    if agg == "median-iqr":
        text = format_value(row["median"], metric)
        if row["count"] > 1:
            text += f" [{format_value(row['q1'], metric)}, {format_value(row['q3'], metric)}]"
    else:
        text = format_value(row["mean"], metric)
        if row["count"] > 1:
            text += " ± " + format(row["std"], spread_spec)
    if row["failures"]:
        text += f" ({row['failures']})"
    return text


def _mark_best(cells: pd.DataFrame, dims: list[str], compare: str | None, agg: str, test: str, alpha: float) -> None:
    """Set ``best``, ``significant``, ``p_value`` and ``n_pairs`` in place.

    In each comparison group (every dim but ``compare`` fixed, one metric) the cells
    whose every seed succeeded compete; ties are judged on the value as written, so two
    cells that read the same are both bold. The mark needs a single best and a runner-up.
    """
    cells["best"] = False
    cells["significant"] = False
    cells["p_value"] = np.nan
    cells["n_pairs"] = 0
    if compare is None:
        return
    fixed = [d for d in dims if d != compare] + ["metric"]
    for _, group in cells.groupby(fixed, sort=False, dropna=False):
        info = metric_info(group["metric"].iloc[0])
        if info.better is None or len(group) < 2:
            continue
        contenders = group[(group["status"] == "ok") & (group["count"] > 0)]
        if contenders.empty:
            continue
        centre = {i: centre_and_spread(row, agg)[0] for i, row in contenders.iterrows()}
        ranked = sorted(centre, key=lambda i: info.key(centre[i]))
        written = {i: format_value(centre[i], info.name) for i in ranked}
        best = [i for i in ranked if written[i] == written[ranked[0]]]
        cells.loc[best, "best"] = True
        if len(best) == 1 and len(ranked) > 1:
            runner_up = ranked[1]
            result = paired_test(cells.at[best[0], "values"], cells.at[runner_up, "values"], info.better, test, alpha)
            cells.loc[best[0], ["significant", "p_value", "n_pairs"]] = [result.significant, result.p_value, result.n_pairs]


def _latex_identifier(text: str) -> str:
    """A metric or column name (letters, digits, underscores) safe in LaTeX text."""
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")


# -- layouts ------------------------------------------------------------------------------


def _flat_columns(wide: pd.DataFrame) -> pd.DataFrame:
    if isinstance(wide.columns, pd.MultiIndex):
        wide = wide.copy()
        wide.columns = [" · ".join(str(part) for part in key) for key in wide.columns]
    return wide


def _marked(table: ComparisonTable, mark: str) -> pd.DataFrame:
    """Cell texts with the significance mark appended."""
    text, significant = table.wide("text"), table.wide("significant", fill=False).astype(bool)
    return text.where(~significant, text + " " + mark)


def to_markdown(table: ComparisonTable) -> str:
    """A GitHub-flavoured Markdown table (bold as ``**...**``), its caption below it."""
    text = _marked(table, MARK)
    best = table.wide("best", fill=False).astype(bool)
    shown = text.where(~best, "**" + text + "**")
    body = _flat_columns(shown).reset_index().to_markdown(index=False, disable_numparse=True)
    return f"{body}\n\n{table.caption()}\n"


def _styler(table: ComparisonTable, mark: str):
    text = _marked(table, mark)
    best = table.wide("best", fill=False).astype(bool).to_numpy()
    styler = text.style.apply(lambda _: np.where(best, "font-weight: bold;", ""), axis=None)
    return styler


def to_latex(table: ComparisonTable, label: str = "tab:diffclust") -> str:
    """A booktabs ``table`` environment (``\\usepackage{booktabs}``); bold via ``\\bfseries``."""
    styler = _styler(table, MARK)
    styler.format(escape="latex", formatter=lambda s: s.replace("±", r"$\pm$").replace(MARK, r"$^{\dagger}$"))
    styler.format_index(escape="latex", axis=0)
    styler.format_index(escape="latex", axis=1)
    styler.index.names = [_latex_identifier(n) if n else n for n in styler.index.names]
    if styler.columns.names is not None:
        styler.columns.names = [_latex_identifier(n) if n else n for n in styler.columns.names]
    data = styler.data
    return styler.to_latex(
        hrules=True, convert_css=True, caption=table.caption(latex=True), label=label,
        position_float="centering", environment="table", multicol_align="c", multirow_align="naive",
        column_format="l" * data.index.nlevels + "r" * data.shape[1],
    )


def to_html(table: ComparisonTable, table_id: str = "comparison") -> str:
    """An HTML ``<table>`` (with its ``<style>``): bold via CSS, failures in grey italics."""
    styler = _styler(table, MARK)
    failed = table.wide("ok", fill=0).to_numpy() == 0
    classes = pd.DataFrame(np.where(failed, "failed", ""), index=styler.data.index, columns=styler.data.columns)
    styler.set_td_classes(classes)
    styler.format(escape="html")
    styler.set_caption(table.caption())
    styler.set_table_attributes('class="comparison"')
    styler.set_uuid(table_id)
    return styler.to_html()


def to_csv(table: ComparisonTable) -> str:
    """Tidy CSV for scripts: one line per (rows + cols) group, whatever the layout.

    Columns: the dimensions; ``status`` (``ok``, ``partial`` or the failure), ``seeds``,
    ``seeds_ok``, ``failures``; then for each metric ``<metric>_mean``, ``_std``,
    ``_median``, ``_q1``, ``_q3``, ``_count`` (seeds that gave a value), ``_best``,
    ``_significant``, ``_p`` (the test's p-value, Wilcoxon only). Numbers are plain
    numbers; a statistic with no value is empty and ``status`` says why.
    """
    dims = [*table.rows, *table.cols]
    cells = table.cells
    base = cells.drop_duplicates(dims)[[*dims, "status", "seeds", "ok", "failures"]].rename(columns={"ok": "seeds_ok"})
    stats = ("mean", "std", "median", "q1", "q3", "count", "best", "significant", "p_value")
    for metric in table.metrics:
        part = cells[cells["metric"] == metric][[*dims, *stats]]
        part = part.rename(columns={s: f"{metric}_{'p' if s == 'p_value' else s}" for s in stats})
        base = base.merge(part, on=dims, how="left")
    base = base.rename(columns={d: display_name(d).replace(" ", "_") for d in dims})
    return base.to_csv(index=False, float_format="%.10g")


FORMATTERS = {"md": to_markdown, "latex": to_latex, "csv": to_csv}


def render(table: ComparisonTable, fmt: str) -> str:
    """``table`` as text in ``fmt`` (md, latex, csv; html is :func:`to_html` or the full report)."""
    if fmt == "html":
        return to_html(table)
    try:
        return FORMATTERS[fmt](table)
    except KeyError:
        raise DiffclustError(f"unknown table format {fmt!r}; choose one of md, latex, csv, html.") from None


__all__ = ["DEFAULT_METRICS", "DEFAULT_ROWS", "ComparisonTable", "build_table", "render", "to_csv", "to_html", "to_latex", "to_markdown"]

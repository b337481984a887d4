"""The table of docs/backends.md: each Gumbel configuration's mean inertia over em's.

Usage: ``python docs/sweeps/gumbel_tau_table.py RUN_FOLDER/results.parquet``
"""

from __future__ import annotations

import sys

import pandas as pd


def table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean inertia over seeds of em (absolute) and of each configuration (over em's)."""
    std = results.p_dataset_standardize.map(lambda v: "" if pd.isna(v) else (" std" if v else " raw"))
    tau0 = results.p_backend_tau0.map(lambda v: "" if pd.isna(v) else f" tau0={v:g}")
    means = results.assign(data=results.dataset + std, cfg=results.backend + tau0)
    means = means.groupby(["data", "cfg"]).inertia.mean().unstack("cfg")
    em = means.pop("em")
    return pd.concat([em.rename("em mean inertia").map("{:.6g}".format),
                      means.div(em, axis=0).map("{:.4f}".format)], axis=1)


if __name__ == "__main__":
    out = table(pd.read_parquet(sys.argv[1]))
    print(out.to_markdown())
    print("\nworst ratio per configuration:")
    print(out.drop(columns="em mean inertia").astype(float).max().to_string())

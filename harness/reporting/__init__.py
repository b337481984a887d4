"""Reports: comparison tables, figures, an HTML page and a pytest-benchmark export of runs."""

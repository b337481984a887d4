"""The ``file`` dataset: .npy, .csv, .parquet, label columns, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffclust.datasets.file import FileDataset
from diffclust.errors import DataError

DEFAULTS = FileDataset.params


def load(**params):
    return FileDataset().load(**{**DEFAULTS, **params})


def test_npy_with_and_without_label_column(tmp_path):
    array = np.column_stack([np.arange(10.0), np.arange(10.0) * 2, np.repeat([0, 1], 5)])
    path = tmp_path / "x.npy"
    np.save(path, array)
    data = load(path=str(path), label_column="2")
    assert data.X.shape == (10, 2) and data.k == 2
    np.testing.assert_array_equal(data.labels, np.repeat([0, 1], 5))
    assert load(path=str(path)).X.shape == (10, 3)


def test_csv_with_header_and_named_label_column(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [0.5, 1, 2, 3], "species": ["x", "x", "y", "z"]}).to_csv(path, index=False)
    data = load(path=str(path), label_column="species")
    assert data.X.shape == (4, 2) and data.k == 3


def test_csv_without_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    assert load(path=str(path)).X.shape == (3, 2)


def test_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "y": [0, 1]}).to_parquet(path)
    data = load(path=str(path), label_column="y")
    assert data.X.shape == (2, 2) and data.k == 2


@pytest.mark.parametrize(
    ("name", "content", "params", "message"),
    [
        ("missing.csv", None, {}, "does not exist"),
        ("empty.csv", "", {}, "is empty"),
        ("x.txt", "1,2\n", {}, "use one of .npy, .csv, .parquet"),
        ("words.csv", "a,b\n1,hello\n2,world\n", {}, "non-numeric column(s) b"),
        ("ragged.csv", "1,2\n3,4,5,6\n7,8\n", {}, "ragged or malformed"),
        ("labels.csv", "a,b\n1,2\n3,4\n", {"label_column": "c"}, "has no column 'c'"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, name, content, params, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as info:
        load(path=str(path), **params)
    assert message in str(info.value)
    assert str(path) in str(info.value) or "no path" in str(info.value)


def test_no_path_is_an_error():
    with pytest.raises(DataError, match="no path given"):
        FileDataset().check(**DEFAULTS)

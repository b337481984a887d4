"""``file``: your own data from a ``.npy``, ``.csv`` or ``.parquet`` file.

``-d file:path=data.csv,label_column=species,k=4``. Without a label column every column is
data; ``k`` is then required unless the file has labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import diffclust
from diffclust.errors import DataError

SUFFIXES = (".npy", ".csv", ".parquet")


class FileDataset(diffclust.Dataset):
    name = "file"
    description = "a .npy, .csv or .parquet file, with an optional label column"
    params = {"path": "", "label_column": "", "header": "auto"}

    def check(self, **p: Any) -> None:
        path = _path(p)
        if not path.exists():
            raise DataError(f"file: {path} does not exist. Give an existing file with path=...")
        if not path.is_file():
            raise DataError(f"file: {path} is not a file.")
        if path.suffix.lower() not in SUFFIXES:
            raise DataError(f"file: {path} has suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}.")
        if path.stat().st_size == 0:
            raise DataError(f"file: {path} is empty.")

    def load(self, **p: Any) -> diffclust.DatasetData:
        self.check(**p)
        path = _path(p)
        suffix = path.suffix.lower()
        label_column = p.get("label_column", "")
        if suffix == ".npy":
            X, labels = _from_npy(path, label_column)
        else:
            X, labels = _from_table(path, suffix, label_column, p.get("header", "auto"))
        k = len(np.unique(labels)) if labels is not None else 0
        return diffclust.DatasetData(X=X, labels=labels, k=k)


def _path(p: dict[str, Any]) -> Path:
    if not p.get("path"):
        raise DataError("file: no path given. Use -d file:path=PATH (a .npy, .csv or .parquet file).")
    return Path(str(p["path"])).expanduser()


def _from_npy(path: Path, label_column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"file: {path} is not a plain numeric .npy array ({exc}).") from exc
    except Exception as exc:  # noqa: BLE001 - corrupt file: say so
        raise DataError(f"file: cannot read {path}: {exc}") from exc
    if array.ndim != 2:
        raise DataError(f"file: {path} holds an array of shape {array.shape}; expected 2-D (n x d).")
    if array.dtype.kind not in "biuf":
        raise DataError(f"file: {path} holds dtype {array.dtype}; expected numbers.")
    if label_column in ("", None):
        return array, None
    try:
        column = int(label_column)
    except ValueError as exc:
        raise DataError(f"file: label_column for a .npy file is a column index, got {label_column!r}.") from exc
    if not -array.shape[1] <= column < array.shape[1]:
        raise DataError(f"file: label_column={column} is out of range for {array.shape[1]} columns.")
    column %= array.shape[1]
    return np.delete(array, column, axis=1), array[:, column]


def _from_table(path: Path, suffix: str, label_column: Any, header: Any) -> tuple[np.ndarray, np.ndarray | None]:
    import pandas as pd

    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = _read_csv(path, header)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas' parser errors name the line; keep them
        raise DataError(f"file: cannot read {path}: {exc}") from exc
    if frame.empty:
        raise DataError(f"file: {path} has no rows.")
    labels = None
    if label_column not in ("", None):
        key = _column_key(frame, label_column, path)
        labels = frame[key].to_numpy()
        frame = frame.drop(columns=[key])
    non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise DataError(
            f"file: {path} has non-numeric column(s) {', '.join(non_numeric[:5])}. "
            "Name a label column with label_column=..., or remove the others."
        )
    return frame.to_numpy(dtype=np.float64), labels


def _read_csv(path: Path, header: Any):
    import pandas as pd

    if header == "auto":
        first = path.open().readline().split(",")
        header = not all(_is_number(cell) for cell in first)
    try:
        return pd.read_csv(path, header=0 if _truthy(header) else None)
    except pd.errors.ParserError as exc:
        raise DataError(f"file: {path} is ragged or malformed (rows of different lengths?): {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"file: {path} has no data.") from exc


def _column_key(frame, label_column: Any, path: Path):
    if label_column in frame.columns:
        return label_column
    try:
        index = int(label_column)
    except (TypeError, ValueError):
        raise DataError(
            f"file: {path} has no column {label_column!r}; columns are {', '.join(map(str, frame.columns[:10]))}."
        ) from None
    if index in frame.columns:
        return index
    if -len(frame.columns) <= index < len(frame.columns):
        return frame.columns[index]
    raise DataError(f"file: label_column={index} is out of range for {len(frame.columns)} columns.")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


@diffclust.hookimpl
def register_datasets(register):
    register(FileDataset())

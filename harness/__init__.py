"""diffclust: a plugin-based benchmark harness for differentiable clustering.

The public API is what ``__all__`` lists; everything else may change without notice.
"""

from diffclust.backend import Backend, Trace
from diffclust.dataset import Dataset, DatasetData
from diffclust.hookspecs import hookimpl
from diffclust.problem import Fit, Problem

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "Dataset",
    "DatasetData",
    "Fit",
    "Problem",
    "Trace",
    "__version__",
    "hookimpl",
]

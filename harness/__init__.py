"""diffclust: a plugin-based benchmark harness for differentiable clustering.

The public API is what ``__all__`` lists; everything else may change without notice.
"""

import os

# OpenMP threads that spin while idle (GNU libgomp's default) steal the cores a backend's
# own thread needs whenever the machine is busy, which makes torch's many small parallel
# operations up to 20x slower; idle threads that sleep cost microseconds. It must be set
# before torch or faiss load OpenMP (both are imported only inside a backend's fit); an
# explicit OMP_WAIT_POLICY wins, and environment.json records the value in force.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from diffclust.backend import Backend, Trace  # noqa: E402
from diffclust.dataset import Dataset, DatasetData  # noqa: E402
from diffclust.hookspecs import hookimpl  # noqa: E402
from diffclust.problem import Fit, Problem  # noqa: E402

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

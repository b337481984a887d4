"""diffclust: a plugin-based benchmark harness for differentiable clustering.

The public API is what ``__all__`` lists; everything else may change without notice.
"""

import os
import sys

# OpenMP threads that spin while idle (GNU libgomp's default) steal the cores a backend's
# own thread needs whenever the machine is busy, which makes torch's many small parallel
# operations up to 20x slower; idle threads that sleep cost microseconds. It must be set
# before torch or faiss load OpenMP (both are imported only inside a backend's fit); an
# explicit OMP_WAIT_POLICY wins, and environment.json records the value in force.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _numba_cache_dir() -> str:
    """Where numba keeps diffclust's compiled functions: the user's cache folder.

    numba's default is a ``__pycache__`` beside each source file, inside site-packages for
    an installed diffclust. pip does not know those files, so uninstalling leaves a
    ``diffclust`` folder of them behind, and the next install in that environment (an
    editable one, as the README's test command makes) imports that empty folder as a
    namespace package: ``cannot import name 'Problem' from 'diffclust'``. An explicit
    NUMBA_CACHE_DIR wins.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "diffclust", "numba")


if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = _numba_cache_dir()
    if "numba" in sys.modules:  # numba read its settings already; its caches are made later
        sys.modules["numba"].config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

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

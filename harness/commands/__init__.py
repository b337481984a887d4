"""CLI commands that live in modules of their own.

Each module here defines its commands on :data:`diffclust.cli.app` with
``@app.command()``; importing it registers them. Add the import of a new module below.
"""

from diffclust.commands import check  # noqa: E402, F401
from diffclust.commands import new_backend  # noqa: E402, F401
from diffclust.commands import plot  # noqa: E402, F401
from diffclust.commands import reference  # noqa: E402, F401
from diffclust.commands import report  # noqa: E402, F401

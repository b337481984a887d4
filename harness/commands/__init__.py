"""CLI commands that live in modules of their own.

Each module here defines its commands on :data:`diffclust.cli.app` with
``@app.command()``; importing it registers them. Add the import of a new module below.
"""

from diffclust.commands import new_backend  # noqa: F401

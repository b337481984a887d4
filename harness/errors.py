"""Errors a user can cause, each with a message that names the thing and the fix.

The CLI prints a :class:`DiffclustError` as one line and exits non-zero, without a
traceback. Anything else that escapes is a bug in diffclust and keeps its traceback.
"""

from __future__ import annotations


class DiffclustError(Exception):
    """Base class of every error a user can cause and fix."""

    exit_code = 2


class DataError(DiffclustError):
    """The data of a problem is unusable: NaN, wrong shape, non-numeric, k out of range."""


class SuiteError(DiffclustError):
    """A suite file, or a ``-b``/``-d`` specification on the command line, is malformed."""


class UnknownNameError(DiffclustError):
    """A backend, dataset or suite name that no plugin registered."""


class PluginError(DiffclustError):
    """A plugin failed to load or registered something malformed."""


class InvalidFitError(Exception):
    """A backend returned a Fit that breaks the contract (shapes, NaN, labels out of range).

    Not a user error: the runner turns it into a row with status ``invalid``.
    """

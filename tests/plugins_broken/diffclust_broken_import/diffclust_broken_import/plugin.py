"""A plugin that cannot be imported: it needs a package that is not installed."""

import a_module_that_is_not_installed  # noqa: F401

import diffclust


@diffclust.hookimpl
def register_backends(register):
    raise AssertionError("never reached: the import above fails")

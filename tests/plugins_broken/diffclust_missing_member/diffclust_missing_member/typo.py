"""A hook name with a typo: pluggy would silently never call it."""

import diffclust


@diffclust.hookimpl
def register_backend(register):  # should be register_backends
    raise AssertionError("never called")

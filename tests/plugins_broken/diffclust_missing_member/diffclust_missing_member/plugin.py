"""Each registration below breaks the contract in a different, common way."""

import diffclust


class NoFit(diffclust.Backend):
    """Forgot to write fit()."""

    name = "no-fit"


class NoName(diffclust.Backend):
    """Forgot the name."""

    def fit(self, problem, *, device, seed, trace, **params):
        return diffclust.Fit(labels=[0] * problem.n, centroids=problem.init, n_iter=0)


class NotABackend:
    """Does not derive from diffclust.Backend and has no fit."""

    name = "not-a-backend"
    params = {}


class GivenAsClass(NoName):
    name = "given-as-class"


class FineToo(NoName):
    """Valid: proves the plugin's other backends still register."""

    name = "fine-too"


@diffclust.hookimpl
def register_backends(register):
    register(NoFit())
    register(NoName())
    register(NotABackend())
    register(GivenAsClass)  # the class, not an instance
    register(FineToo())

"""Suite files and command-line specs: parsed, checked against the registry, expanded."""

from __future__ import annotations

import pytest

from diffclust.errors import SuiteError, UnknownNameError
from diffclust.registry import build_registry
from diffclust.suite import builtin_suites, expand, load_suite, parse_spec, suite_from_dict, with_overrides


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def test_spec_values_are_typed_like_toml():
    spec = parse_spec("torch-ste:tau=0.1,steps=300,polish=false,mode=logits,tol=1e-4", "backend")
    assert spec.name == "torch-ste"
    assert spec.params == {"tau": 0.1, "steps": 300, "polish": False, "mode": "logits", "tol": 1e-4}


@pytest.mark.parametrize("text", [":a=1", "em:max_iter"])
def test_malformed_specs_are_errors(text):
    with pytest.raises(SuiteError):
        parse_spec(text, "backend")


def test_shipped_suites_expand(registry):
    assert {"quick", "full"} <= set(builtin_suites())
    cells = expand(load_suite("quick"), registry)
    assert cells and len({c.key for c in cells}) == len(cells)


def test_grid_and_seeds_make_the_cells(registry):
    suite = suite_from_dict({
        "suite": {"name": "t", "seeds": [3, 5]},
        "backend": [{"name": "em", "params": {"max_iter": 10}}],
        "dataset": [{"name": "blobs", "params": {"d": 2}, "grid": {"n": [100, 200, 300]}}],
    })
    cells = expand(suite, registry)
    assert len(cells) == 6
    assert sorted({c.dataset_params["n"] for c in cells}) == [100, 200, 300]
    assert {c.seed for c in cells} == {3, 5}
    assert all(c.backend_params["max_iter"] == 10 and c.backend_params["tol"] == 1e-4 for c in cells)
    assert cells[0].dataset_label == "blobs(n=100,d=2)"


def test_key_changes_with_backend_version_and_params(registry):
    suite = suite_from_dict({"backend": [{"name": "em"}], "dataset": [{"name": "iris"}]})
    (cell,) = expand(suite, registry)[:1]
    (other,) = expand(with_overrides(suite, backends=["em:tol=0.001"]), registry)[:1]
    assert cell.key != other.key
    from dataclasses import replace

    assert replace(cell, backend_version=cell.backend_version + ".1").key != cell.key
    assert replace(cell, repeats=9).key == cell.key


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"backend": [{"name": "nope"}], "dataset": [{"name": "iris"}]}, UnknownNameError, "unknown backend 'nope'"),
        ({"backend": [{"name": "em"}], "dataset": [{"name": "irsi"}]}, UnknownNameError, "Did you mean 'iris'?"),
        ({"backend": [{"name": "em", "params": {"maxiter": 3}}], "dataset": [{"name": "iris"}]}, SuiteError, "unknown parameter(s) maxiter. Known: chunk_rows, max_iter, tol"),
        ({"backend": [{"name": "em", "params": {"max_iter": "many"}}], "dataset": [{"name": "iris"}]}, SuiteError, "parameter max_iter expects int"),
        ({"backend": [{"name": "em"}], "dataset": [{"name": "iris", "params": {"k": 0}}]}, SuiteError, "k must be a positive integer"),
        ({"suite": {"seeds": 0}, "backend": [{"name": "em"}], "dataset": [{"name": "iris"}]}, SuiteError, "seeds must be at least 1"),
        ({"suite": {"colour": 1}, "backend": [{"name": "em"}], "dataset": [{"name": "iris"}]}, SuiteError, "unknown [suite] key(s) colour"),
        ({"backend": [], "dataset": [{"name": "iris"}]}, SuiteError, "has no backends"),
    ],
)
def test_suite_mistakes_are_named(registry, data, error, message):
    with pytest.raises(error) as info:
        expand(suite_from_dict(data), registry)
    assert message in str(info.value)


def test_bad_toml_file_is_named(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[suite\nname=")
    with pytest.raises(SuiteError, match="is not valid TOML"):
        load_suite(str(path))
    with pytest.raises(UnknownNameError, match="no suite 'nosuch'"):
        load_suite("nosuch")


def test_init_override_is_checked(registry):
    suite = suite_from_dict({"backend": [{"name": "em"}], "dataset": [{"name": "iris"}]})
    assert all(c.init == "random" for c in expand(with_overrides(suite, init="random"), registry))
    with pytest.raises(SuiteError, match="--init must be one of k-means\\+\\+, random"):
        with_overrides(suite, init="kmeans")

"""Tests of reparam.book.data: the scikit-learn loaders, the seeded split and standardisation.

The oracle is scikit-learn itself (the raw arrays) and NumPy statistics.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np
import pytest
import torch
from sklearn import datasets

from reparam.book import data


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- split_indices -------------------------------------------------------------------------
def test_split_is_a_seeded_partition() -> None:
    train, test = data.split_indices(101, 0.25, generator=_gen(3))
    assert train.dtype == torch.int64 and test.dtype == torch.int64
    assert test.numel() == 25 and train.numel() == 76
    assert torch.equal(torch.cat([train, test]).sort().values, torch.arange(101))
    again = data.split_indices(101, 0.25, generator=_gen(3))
    assert torch.equal(train, again[0]) and torch.equal(test, again[1])
    other = data.split_indices(101, 0.25, generator=_gen(4))
    assert not torch.equal(test, other[1])


def test_split_keeps_both_parts_non_empty() -> None:
    train, test = data.split_indices(2, 0.01, generator=_gen())
    assert train.numel() == 1 and test.numel() == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_examples": 1, "test_fraction": 0.5}, ValueError, "num_examples"),
        ({"num_examples": 10.0, "test_fraction": 0.5}, TypeError, "num_examples"),
        ({"num_examples": 10, "test_fraction": 0.0}, ValueError, "test_fraction"),
        ({"num_examples": 10, "test_fraction": 1.0}, ValueError, "test_fraction"),
        ({"num_examples": 10, "test_fraction": "0.2"}, TypeError, "test_fraction"),
    ],
)
def test_split_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        data.split_indices(**kwargs, generator=_gen())


def test_split_needs_a_generator() -> None:
    with pytest.raises(TypeError, match="generator"):
        data.split_indices(10, 0.2, generator=0)  # type: ignore[arg-type]


# -- standardize ---------------------------------------------------------------------------
def test_standardize_uses_training_statistics_only() -> None:
    rng = np.random.default_rng(0)
    train_np = rng.normal(3.0, 2.0, size=(50, 3))
    test_np = rng.normal(3.0, 2.0, size=(20, 3))
    train, test = data.standardize(torch.from_numpy(train_np), torch.from_numpy(test_np))
    mean, std = train_np.mean(axis=0), train_np.std(axis=0)
    np.testing.assert_allclose(train.numpy(), (train_np - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(test.numpy(), (test_np - mean) / std, rtol=1e-12)


def test_standardize_leaves_constant_columns_finite() -> None:
    train = torch.tensor([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    out, _ = data.standardize(train, train[:1])
    assert torch.isfinite(out).all() and torch.equal(out[:, 1], torch.zeros(3))


def test_standardize_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="columns"):
        data.standardize(torch.zeros(4, 3), torch.zeros(2, 2))


# -- load_digits ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_digits_match_scikit_learn(dtype: torch.dtype) -> None:
    split = data.load_digits(generator=_gen(), dtype=dtype)
    raw = datasets.load_digits()
    assert split.num_train + split.num_test == 1797 == raw.data.shape[0]
    assert split.num_features == 64 and split.train_inputs.dtype == dtype
    assert split.train_targets.dtype == torch.int64
    pooled = torch.cat([split.train_inputs, split.test_inputs]).double() * 16
    # Same multiset of images as scikit-learn's (compare sorted rows).
    ours = np.array(sorted(map(tuple, pooled.numpy().round().astype(int))))
    theirs = np.array(sorted(map(tuple, raw.data.astype(int))))
    assert np.array_equal(ours, theirs)
    assert 0 <= float(split.train_inputs.min()) and float(split.train_inputs.max()) <= 1


def test_digits_arrays_are_scikit_learns_without_importing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Read from scikit-learn's file, the arrays are load_digits's, row for row; and where
    that file is not found, load_digits gives them."""
    raw = datasets.load_digits()
    pixels, labels = data._digits_arrays()
    assert np.array_equal(pixels, raw.data) and np.array_equal(labels, raw.target)
    assert labels.dtype == np.int64
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    pixels, labels = data._digits_arrays()
    assert np.array_equal(pixels, raw.data) and np.array_equal(labels, raw.target)


def test_loading_the_digits_does_not_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from reparam.book import data\n"
        "data.load_digits(generator=torch.Generator().manual_seed(0))\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_digits_binarized_and_reproducible() -> None:
    grey = data.load_digits(generator=_gen(5))
    binary = data.load_digits(generator=_gen(5), binarize=True)
    assert set(binary.train_inputs.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(binary.train_inputs, (grey.train_inputs >= 0.5).to(grey.train_inputs.dtype))
    assert torch.equal(grey.test_targets, binary.test_targets)
    assert split_sizes(grey) == (1438, 359)


def split_sizes(split: data.DataSplit) -> tuple[int, int]:
    return split.num_train, split.num_test


# -- load_breast_cancer --------------------------------------------------------------------
def test_breast_cancer_standardised_with_bias() -> None:
    split = data.load_breast_cancer(generator=_gen(), dtype=torch.float64)
    assert split.num_features == 31 and split.feature_names[-1] == "bias"
    assert split.num_train + split.num_test == 569
    x = split.train_inputs
    torch.testing.assert_close(
        x[:, :30].mean(0), torch.zeros(30, dtype=x.dtype), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(x[:, :30].std(0, correction=0), torch.ones(30, dtype=x.dtype))
    assert torch.equal(x[:, 30], torch.ones(split.num_train, dtype=x.dtype))
    assert set(split.train_targets.unique().tolist()) == {0.0, 1.0}
    raw = datasets.load_breast_cancer()
    assert float(split.train_targets.sum() + split.test_targets.sum()) == raw.target.sum()


def test_breast_cancer_without_bias_and_float32() -> None:
    split = data.load_breast_cancer(generator=_gen(), add_bias=False, dtype=torch.float32)
    assert split.num_features == 30 and split.test_inputs.dtype == torch.float32
    assert split.train_targets.dtype == torch.float32


def test_loaders_validate_arguments() -> None:
    with pytest.raises(TypeError, match="dtype"):
        data.load_digits(generator=_gen(), dtype=torch.int64)
    with pytest.raises(TypeError, match="generator"):
        data.load_breast_cancer(generator="seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_breast_cancer(generator=_gen(), test_fraction=1.5)


def test_missing_scikit_learn_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def fake_import(name: str, *args: Any) -> Any:
        if name.startswith("sklearn"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    with pytest.raises(ImportError, match="scikit-learn"):
        data.load_digits(generator=_gen())

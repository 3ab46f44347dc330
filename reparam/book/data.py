"""The real data sets of the book's applications, loaded from scikit-learn.

Book part "The trick at work": the chapter "A variational autoencoder" trains on the 8×8
handwritten digits (1,797 images) and the chapter "Bayesian logistic regression" on the
Wisconsin breast-cancer data (569 patients × 30 features); the chapter "Gaussians at scale"
fits the diabetes data (442 patients × 10 features) by Bayesian linear regression. All three
ship inside scikit-learn, so nothing is downloaded.

Every loader splits the data into a training and a held-out part with an explicit
``torch.Generator`` (the same seed gives the same split on every machine), returns tensors of
the requested dtype and device, and, where features are standardised, uses statistics of the
*training* part only, so that nothing about the held-out part leaks into training.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reparam._validation import (
    as_tensor,
    check_count,
    check_floating_dtype,
    check_generator,
    check_instance,
    check_real,
)

__all__ = [
    "DataSplit",
    "load_breast_cancer",
    "load_diabetes",
    "load_digits",
    "split_indices",
    "standardize",
]


@dataclass(frozen=True)
class DataSplit:
    """A training part and a held-out part of one data set.

    Attributes:
        train_inputs: shape ``(n_train, num_features)``.
        train_targets: shape ``(n_train,)``; class labels as a floating tensor for the
            breast-cancer data (1 = benign, 0 = malignant), digit labels 0–9 (int64) for the
            digits.
        test_inputs: shape ``(n_test, num_features)``.
        test_targets: shape ``(n_test,)``.
        feature_names: one name per column of the inputs.
        name: the data set's name.
    """

    train_inputs: Tensor
    train_targets: Tensor
    test_inputs: Tensor
    test_targets: Tensor
    feature_names: tuple[str, ...]
    name: str

    @property
    def num_features(self) -> int:
        """Number of input columns."""
        return int(self.train_inputs.shape[1])

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return int(self.train_inputs.shape[0])

    @property
    def num_test(self) -> int:
        """Number of held-out examples."""
        return int(self.test_inputs.shape[0])


def _sklearn_datasets() -> ModuleType:
    """Import ``sklearn.datasets``, or explain which package is missing and how to get it."""
    try:
        return importlib.import_module("sklearn.datasets")
    except ImportError as error:
        raise ImportError(
            "reparam.book.data needs the package scikit-learn, which ships the digits and "
            "breast-cancer data sets (nothing is downloaded). Install it with "
            '`pip install "reparam[book]"` (or `pip install scikit-learn`).'
        ) from error


def split_indices(
    num_examples: int, test_fraction: float, *, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """A seeded random split of ``range(num_examples)`` into training and held-out indices.

    Args:
        num_examples: how many examples there are, at least 2.
        test_fraction: the held-out share, strictly between 0 and 1; the held-out part has
            ``round(test_fraction * num_examples)`` examples (at least 1, leaving at least 1).
        generator: source of the random permutation (on the CPU).

    Returns:
        ``(train, test)``: sorted int64 index tensors of shapes ``(n_train,)`` and
        ``(n_test,)``, disjoint, together covering every index.
    """
    num_examples = check_count(num_examples, "num_examples", minimum=2)
    test_fraction = _check_fraction(test_fraction)
    check_instance(generator, "generator", torch.Generator, "a torch.Generator")
    num_test = min(max(round(test_fraction * num_examples), 1), num_examples - 1)
    order = torch.randperm(num_examples, generator=generator, device=generator.device).cpu()
    return order[num_test:].sort().values, order[:num_test].sort().values


def standardize(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    """Centre and scale every column by the training part's mean and standard deviation.

    Args:
        train: shape ``(n_train, num_features)``.
        test: shape ``(n_test, num_features)``.

    Returns:
        ``(train, test)`` standardised with the training statistics (population standard
        deviation); a constant training column is only centred, never divided by zero.
    """
    train, test = as_tensor(train, "train"), as_tensor(test, "test")
    if train.dim() != 2 or test.dim() != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            "train and test must be 2-d with the same number of columns, got shapes "
            f"{tuple(train.shape)} and {tuple(test.shape)}"
        )
    mean = train.mean(dim=0)
    std = train.std(dim=0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (train - mean) / std, (test - mean) / std


def _shipped_data_folder() -> Path | None:
    """scikit-learn's ``datasets/data`` folder, found without importing scikit-learn (which
    takes about two seconds, most of a chapter's data loading); ``None`` if not installed."""
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        spec = None
    origin = spec.origin if spec is not None else None
    return Path(origin).parent / "datasets" / "data" if origin else None


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits' pixels ``(1797, 64)`` and labels ``(1797,)``, as scikit-learn ships them.

    scikit-learn keeps them in ``sklearn/datasets/data/digits.csv.gz`` (one image per row, its
    64 grey levels and then its label), which ``sklearn.datasets.load_digits`` parses. Read
    here without importing scikit-learn; if that file is not where this version of
    scikit-learn keeps it, through ``load_digits``. A test checks both against
    ``load_digits``.
    """
    folder = _shipped_data_folder()
    shipped = folder / "digits.csv.gz" if folder is not None else None
    if shipped is not None and shipped.is_file():
        with gzip.open(shipped, mode="rt", encoding="utf-8") as text:
            table = np.loadtxt(text, delimiter=",")
        return table[:, :-1], table[:, -1].astype(np.int64)
    bunch: Any = _sklearn_datasets().load_digits()
    return np.asarray(bunch.data), np.asarray(bunch.target)


def load_digits(
    *,
    generator: torch.Generator,
    test_fraction: float = 0.2,
    binarize: bool = False,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> DataSplit:
    """The 8×8 handwritten digits of scikit-learn (1,797 images), as pixel intensities in [0, 1].

    The images store 17 grey levels, 0–16; they are divided by 16. With ``binarize=True``
    each pixel becomes 1 where the intensity is at least one half and 0 elsewhere, so that a
    Bernoulli decoder is a proper likelihood of the data.

    Args:
        generator: source of the training/held-out split.
        test_fraction: the held-out share (default 0.2: 1,438 training and 359 held-out images).
        binarize: threshold the intensities at 0.5.
        dtype: floating dtype of the images (default: torch's default dtype).
        device: device of the returned tensors.

    Returns:
        A :class:`DataSplit` whose inputs have shape ``(n, 64)`` (row-major 8×8 images) and
        whose targets are the digit labels 0–9 (int64).
    """
    check_generator(generator)
    dtype = _check_dtype(dtype)
    pixels, digits = _digits_arrays()
    images = torch.as_tensor(pixels, dtype=dtype) / 16.0
    if binarize:
        images = (images >= 0.5).to(dtype)
    labels = torch.as_tensor(digits, dtype=torch.int64)
    train, test = split_indices(images.shape[0], test_fraction, generator=generator)
    names = tuple(f"pixel_{row}_{col}" for row in range(8) for col in range(8))
    return DataSplit(
        images[train].to(device),
        labels[train].to(device),
        images[test].to(device),
        labels[test].to(device),
        names,
        "digits",
    )


def load_breast_cancer(
    *,
    generator: torch.Generator,
    test_fraction: float = 0.2,
    add_bias: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> DataSplit:
    """The Wisconsin breast-cancer data of scikit-learn (569 × 30), standardised, with a bias.

    This is the data of Mohamed, Rosca, Figurnov & Mnih (2020), section 8.3: 30 features,
    standardised (here with the training part's statistics), plus a column of ones.

    Args:
        generator: source of the training/held-out split.
        test_fraction: the held-out share (default 0.2: 455 training and 114 held-out rows).
        add_bias: append a column of ones (the intercept) after standardising.
        dtype: floating dtype (default: torch's default dtype).
        device: device of the returned tensors.

    Returns:
        A :class:`DataSplit` with inputs of shape ``(n, 31)`` (``(n, 30)`` without the bias)
        and targets in {0., 1.} of the same dtype (1 = benign, 0 = malignant, scikit-learn's
        coding).
    """
    check_generator(generator)
    dtype = _check_dtype(dtype)
    bunch: Any = _sklearn_datasets().load_breast_cancer()
    features = torch.as_tensor(np.asarray(bunch.data), dtype=dtype)
    labels = torch.as_tensor(np.asarray(bunch.target), dtype=dtype)
    names = tuple(str(name) for name in bunch.feature_names)
    return _standardised_split(
        features,
        labels,
        names,
        "breast_cancer",
        generator=generator,
        test_fraction=test_fraction,
        add_bias=add_bias,
        device=device,
    )


def _standardised_split(
    features: Tensor,
    targets: Tensor,
    names: tuple[str, ...],
    name: str,
    *,
    generator: torch.Generator,
    test_fraction: float,
    add_bias: bool,
    device: torch.device | str | None,
    standardise_targets: bool = False,
) -> DataSplit:
    """Split, standardise with the training part's statistics, and append the intercept."""
    train, test = split_indices(features.shape[0], test_fraction, generator=generator)
    train_x, test_x = standardize(features[train], features[test])
    train_y, test_y = targets[train], targets[test]
    if standardise_targets:
        train_y, test_y = (t[:, 0] for t in standardize(train_y[:, None], test_y[:, None]))
    if add_bias:
        train_x = torch.cat([train_x, torch.ones_like(train_x[:, :1])], dim=1)
        test_x = torch.cat([test_x, torch.ones_like(test_x[:, :1])], dim=1)
        names = (*names, "bias")
    return DataSplit(
        train_x.to(device), train_y.to(device), test_x.to(device), test_y.to(device), names, name
    )


def _diabetes_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The diabetes data's ten features ``(442, 10)`` and its target ``(442,)``, unscaled.

    scikit-learn ships them in ``sklearn/datasets/data/diabetes_data_raw.csv.gz`` and
    ``diabetes_target.csv.gz``; read here without importing scikit-learn (as
    :func:`_digits_arrays` does), else through ``load_diabetes(scaled=False)``.
    """
    folder = _shipped_data_folder()
    names = ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")
    if folder is not None and all((folder / name).is_file() for name in names):
        tables = []
        for name in names:
            with gzip.open(folder / name, mode="rt", encoding="utf-8") as text:
                tables.append(np.loadtxt(text))
        return tables[0], tables[1]
    bunch: Any = _sklearn_datasets().load_diabetes(scaled=False)
    return np.asarray(bunch.data), np.asarray(bunch.target)


#: The diabetes features as scikit-learn names them (age, sex, body-mass index, mean blood
#: pressure and six blood serum measurements).
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def load_diabetes(
    *,
    generator: torch.Generator,
    test_fraction: float = 0.2,
    add_bias: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> DataSplit:
    """The diabetes regression data of scikit-learn (442 patients × 10 features), standardised.

    Book chapter "Gaussians at scale": Bayesian linear regression, whose posterior is an exact
    Gaussian. The target is a measure of disease progression one year after baseline. Features
    *and* target are standardised with the training part's statistics (so a unit-variance
    noise model is on the target's own scale).

    Args:
        generator: source of the training/held-out split.
        test_fraction: the held-out share (default 0.2: 354 training and 88 held-out rows).
        add_bias: append a column of ones (the intercept) after standardising.
        dtype: floating dtype (default: torch's default dtype).
        device: device of the returned tensors.

    Returns:
        A :class:`DataSplit` with inputs of shape ``(n, 11)`` (``(n, 10)`` without the bias)
        and real targets of shape ``(n,)``.
    """
    check_generator(generator)
    dtype = _check_dtype(dtype)
    features_np, target_np = _diabetes_arrays()
    features = torch.as_tensor(features_np, dtype=dtype)
    target = torch.as_tensor(target_np, dtype=dtype)
    return _standardised_split(
        features,
        target,
        DIABETES_FEATURES,
        "diabetes",
        generator=generator,
        test_fraction=test_fraction,
        add_bias=add_bias,
        device=device,
        standardise_targets=True,
    )


def _check_fraction(test_fraction: Any) -> float:
    fraction = check_real(test_fraction, "test_fraction", finite=False)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    return fraction


def _check_dtype(dtype: Any) -> torch.dtype:
    return check_floating_dtype(dtype)

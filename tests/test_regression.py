# The bad-input cases pass ill-typed values on purpose.
# mypy: disable-error-code="arg-type"
"""reparam.book.regression and the diabetes loader: an exact Gaussian posterior on real data.

Oracles: Gaussian conditioning of the joint (z, y) (a formula other than the precision form
the module uses), the N-dimensional evidence density of ``MultivariateNormal``, ``Normal``
log-densities for the log joint, scikit-learn's own loader, and a Monte Carlo ELBO whose
tolerance is its standard error.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from reparam import cholesky
from reparam.book.data import load_diabetes
from reparam.book.regression import linear_regression_log_joint, linear_regression_posterior

F64 = torch.float64


def synthetic(seed: int = 0, n: int = 30, d: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=F64)
    y = x @ torch.randn(d, generator=gen, dtype=F64) + 0.5 * torch.randn(
        n, generator=gen, dtype=F64
    )
    return x, y


@pytest.mark.parametrize(("noise", "prior"), [(0.5, 1.0), (2.0, 0.3)])
def test_posterior_is_gaussian_conditioning_of_the_joint(noise: float, prior: float) -> None:
    x, y = synthetic()
    post = linear_regression_posterior(x, y, noise_scale=noise, prior_scale=prior)
    # (z, y) is jointly Gaussian: Cov(z, y) = τ² Xᵀ, Cov(y) = σ² I + τ² X Xᵀ
    cov_y = noise**2 * torch.eye(len(y), dtype=F64) + prior**2 * x @ x.T
    gain = prior**2 * x.T @ torch.linalg.inv(cov_y)
    mean = gain @ y
    cov = prior**2 * torch.eye(x.shape[1], dtype=F64) - gain @ (prior**2 * x)
    torch.testing.assert_close(post.loc, mean, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(post.covariance, cov, rtol=1e-9, atol=1e-10)
    evidence = MultivariateNormal(torch.zeros(len(y), dtype=F64), cov_y).log_prob(y)
    assert abs(float(post.log_evidence - evidence)) < 1e-9


def test_log_joint_is_a_sum_of_normal_log_densities() -> None:
    x, y = synthetic(1)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    ours = linear_regression_log_joint(z, x, y, noise_scale=0.7, prior_scale=1.5)
    noise, prior = torch.tensor(0.7, dtype=F64), torch.tensor(1.5, dtype=F64)
    expected = Normal(z @ x.T, noise).log_prob(y).sum(-1) + Normal(0.0, prior).log_prob(z).sum(-1)
    assert ours.shape == (5,)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-10)


def test_elbo_is_log_evidence_minus_the_kl_to_the_posterior() -> None:
    """E_q[log p(y, z)] + H[q] = log p(y) − KL(q ‖ posterior), by Monte Carlo."""
    x, y = synthetic(3)
    post = linear_regression_posterior(x, y, noise_scale=0.5, prior_scale=1.0)
    gen = torch.Generator().manual_seed(4)
    loc = post.loc + 0.2 * torch.randn(4, generator=gen, dtype=F64)
    tril = cholesky.scale_tril(0.3 * torch.randn(4, 4, generator=gen, dtype=F64) - 2 * torch.eye(4))
    q = MultivariateNormal(loc, scale_tril=tril)
    draws = q.sample((40000,))
    values = (
        linear_regression_log_joint(draws, x, y, noise_scale=0.5, prior_scale=1.0) + q.entropy()
    )
    exact = post.log_evidence - cholesky.gaussian_kl(loc, tril, post.loc, post.precision)
    error = values.std() / math.sqrt(len(values))
    assert abs(float(values.mean() - exact)) < 4 * float(error)


def test_diabetes_matches_scikit_learn_and_is_standardised_by_the_training_part() -> None:
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    from reparam.book.data import split_indices

    data = load_diabetes(generator=torch.Generator().manual_seed(0), dtype=F64)
    assert data.train_inputs.shape == (354, 11) and data.test_inputs.shape == (88, 11)
    assert data.feature_names[-1] == "bias" and data.name == "diabetes"
    bunch = sklearn_diabetes(scaled=False)
    assert list(bunch.feature_names) == list(data.feature_names[:10])
    features = torch.as_tensor(np.asarray(bunch.data), dtype=F64)
    target = torch.as_tensor(np.asarray(bunch.target), dtype=F64)
    train, test = split_indices(442, 0.2, generator=torch.Generator().manual_seed(0))
    mean, sd = features[train].mean(0), features[train].std(0, correction=0)
    torch.testing.assert_close(data.train_inputs[:, :10], (features[train] - mean) / sd)
    torch.testing.assert_close(data.test_inputs[:, :10], (features[test] - mean) / sd)
    assert torch.equal(data.train_inputs[:, 10], torch.ones(354, dtype=F64))
    centre, spread = target[train].mean(), target[train].std(correction=0)
    torch.testing.assert_close(data.train_targets, (target[train] - centre) / spread)
    torch.testing.assert_close(data.test_targets, (target[test] - centre) / spread)
    plain = load_diabetes(generator=torch.Generator().manual_seed(0), add_bias=False)
    assert plain.train_inputs.shape == (354, 10) and plain.train_inputs.dtype == torch.float32


def test_loading_the_diabetes_data_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, torch\n"
        "from reparam.book.data import load_diabetes\n"
        "load_diabetes(generator=torch.Generator().manual_seed(0))\n"
        "assert 'sklearn' not in sys.modules, 'imported scikit-learn'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_results_follow_the_features_dtype() -> None:
    x, y = (t.float() for t in synthetic(5))
    post = linear_regression_posterior(x, y, noise_scale=0.5, prior_scale=1.0)
    assert {post.loc.dtype, post.precision.dtype, post.log_evidence.dtype} == {torch.float32}


def test_bad_input_names_the_parameter() -> None:
    x, y = synthetic(6)
    with pytest.raises(ValueError, match=r"^noise_scale must be"):
        linear_regression_posterior(x, y, noise_scale=0.0, prior_scale=1.0)
    with pytest.raises(ValueError, match=r"^prior_scale must be"):
        linear_regression_posterior(x, y, noise_scale=1.0, prior_scale=-1.0)
    with pytest.raises(ValueError, match=r"^targets must have shape \(30,\)"):
        linear_regression_posterior(x, y[:3], noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(ValueError, match=r"^features must have shape \(n, D\)"):
        linear_regression_posterior(x[0], y, noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(TypeError, match=r"^features and targets must share one dtype"):
        linear_regression_posterior(x, y.float(), noise_scale=1.0, prior_scale=1.0)
    bad = y.clone()
    bad[0] = math.nan
    with pytest.raises(ValueError, match=r"^targets must be finite"):
        linear_regression_posterior(x, bad, noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(ValueError, match=r"^weights must have shape \(\.\.\., 4\)"):
        linear_regression_log_joint(
            torch.zeros(3, dtype=F64), x, y, noise_scale=1.0, prior_scale=1.0
        )
    with pytest.raises(TypeError, match=r"^targets must be a floating-point"):
        linear_regression_posterior(x, y.long(), noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(ValueError, match=r"^features must have shape \(n, D\) with n, D >= 1"):
        linear_regression_posterior(x[:0], y[:0], noise_scale=1.0, prior_scale=1.0)
    bad_x = x.clone()
    bad_x[2, 1] = math.inf
    with pytest.raises(ValueError, match=r"^features must be finite"):
        linear_regression_posterior(bad_x, y, noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(TypeError, match=r"^features must be a floating-point"):
        linear_regression_posterior(x.long(), y, noise_scale=1.0, prior_scale=1.0)
    with pytest.raises(ValueError, match=r"^test_fraction must lie strictly between 0 and 1"):
        load_diabetes(generator=torch.Generator(), test_fraction=1.0)

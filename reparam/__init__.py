"""reparam: reparameterization gradients and their rivals, in PyTorch.

The companion package of the book *The Reparameterization Trick*. Every chapter of the
book imports it; every public function is tested against an independent oracle.

Modules, one idea each:

- :mod:`reparam.montecarlo` — Monte Carlo means and standard errors.
- :mod:`reparam.noise` — base noise p(ε) drawn from an explicit generator.
- :mod:`reparam.reparameterization` — the sampling path z = g(ε; θ) every estimator uses.
- :mod:`reparam.normal` — the Gaussian reparameterization z = μ + σ·ε.
- :mod:`reparam.costs` — test costs with closed-form Gaussian expectations.
- :mod:`reparam.quadrature` — Gauss–Hermite expectations.
- :mod:`reparam.estimators` — pathwise, score-function and measure-valued gradient estimators.
- :mod:`reparam.variance` — exact estimator means and variances by quadrature.
- :mod:`reparam.gaussian_identities` — Bonnet's and Price's theorems, exact and by Monte Carlo.
- :mod:`reparam.discrete` — Gumbel-max, Concrete / Gumbel-softmax and straight-through paths,
  and sampling without replacement by the Gumbel-top-k trick.
- :mod:`reparam.binary_gradients` — unbiased gradients for binary variables: ARM, DisARM,
  REBAR and RELAX, and the exact gradient by enumeration.
- :mod:`reparam.mixture` — univariate Gaussian mixtures with implicit reparameterization
  gradients for their weights, means and scales.
- :mod:`reparam.rejection` — gradients through the Marsaglia–Tsang rejection sampler (RSVI)
  and the generalized reparameterization gradient (G-REP) for the Gamma distribution.
- :mod:`reparam.flows` — normalizing flows as reparameterized samplers: planar layers as
  ``torch.distributions`` transforms, a flow that draws and scores in one pass, and the
  terms of its evidence lower bound.
- :mod:`reparam.diffusion` — denoising diffusion: the forward process as a reparameterization,
  the posterior of one step, the evidence lower bound's terms as weighted errors in the noise,
  the noise-prediction loss and the ancestral sampler.
- :mod:`reparam.policy` — tanh-squashed Gaussian policies, their stable log-density, and
  pathwise (soft actor-critic) and score-function gradients of a maximum-entropy objective,
  with its exact value and optimum by quadrature.
- :mod:`reparam.surrogate` — the estimators as surrogate losses for ``backward()``, taking
  a :class:`Reparameterization` or any ``torch.distributions.Distribution``.
- :mod:`reparam.multisample` — the ELBO and importance-weighted bounds with standard,
  sticking-the-landing, doubly reparameterized and VIMCO gradients.
- :mod:`reparam.sampling` — antithetic and randomized quasi-Monte Carlo base noise, and the
  pathwise surrogate that uses it.
- :mod:`reparam.weights` — a Bayesian linear layer's random weights in a minibatch: shared,
  per example, local reparameterization and Flipout.
- :mod:`reparam.cholesky` — full-covariance Gaussians through an unconstrained Cholesky factor,
  and their exact KL divergence and gradients against a Gaussian target.
- :mod:`reparam.control_variates` — baselines, leave-one-out means and control variates
  with estimated coefficients.
- :mod:`reparam.distributions` — any :class:`Reparameterization` (every catalog row) as a
  ``torch.distributions.Distribution``.
- :mod:`reparam.catalog` — the table of standard reparameterizations, every row tested,
  and implicit reparameterization gradients for the Gamma family.

The book's own support code (figures, the timeline data, data loading, the training loop
and the two worked applications) lives apart in :mod:`reparam.book`, which ``import reparam``
does not import: the library itself needs only torch.
"""

from reparam import (
    binary_gradients,
    catalog,
    cholesky,
    control_variates,
    diffusion,
    discrete,
    distributions,
    estimators,
    flows,
    gaussian_identities,
    mixture,
    multisample,
    noise,
    policy,
    rejection,
    sampling,
    surrogate,
    variance,
    weights,
)
from reparam.costs import (
    GaussianTestCost,
    constant_cost,
    cosine_cost,
    exact_gradient,
    exp_quadratic_cost,
    linear_cost,
    quadratic_cost,
)
from reparam.montecarlo import MonteCarloEstimate, summarize
from reparam.normal import NORMAL, normal_log_prob, normal_rsample, standard_normal
from reparam.quadrature import gauss_hermite_expectation
from reparam.reparameterization import Parameter, Reparameterization

__version__ = "0.1.0"

__all__ = [
    "NORMAL",
    "GaussianTestCost",
    "MonteCarloEstimate",
    "Parameter",
    "Reparameterization",
    "__version__",
    "binary_gradients",
    "catalog",
    "cholesky",
    "constant_cost",
    "control_variates",
    "cosine_cost",
    "diffusion",
    "discrete",
    "distributions",
    "estimators",
    "exact_gradient",
    "exp_quadratic_cost",
    "flows",
    "gauss_hermite_expectation",
    "gaussian_identities",
    "linear_cost",
    "mixture",
    "multisample",
    "noise",
    "normal_log_prob",
    "normal_rsample",
    "policy",
    "quadratic_cost",
    "rejection",
    "sampling",
    "standard_normal",
    "summarize",
    "surrogate",
    "variance",
    "weights",
]

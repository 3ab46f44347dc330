"""The one-line switch of issue #12: a training script written for ``torch.distributions``
takes a catalog row, or a reparam estimator, by changing exactly one line, and each version
still reaches the exact optimum.

The script fits q = Gamma(α, 2) to p = Gamma(3, 2) by stochastic gradient descent over
log α on the free energy E_q[log q(z) − log p(z)] = KL(q ‖ p), estimated from 256
reparameterized draws per step; the optimum is α = 3 exactly. The two switches:

- the row: ``torch.distributions.Gamma(**params)`` becomes
  ``reparam.distributions.from_catalog("gamma", **params)`` (the catalog's implicit Gamma);
- the estimator: the loss becomes ``reparam.surrogate.pathwise_surrogate(...)``, which draws
  with torch's own ``rsample`` from torch's global stream, so it retraces the torch script.

Tolerance (computed here, not by the code under test): by Polyak & Juditsky (1992), the
average of the last K iterates of SGD near a minimum with Hessian H, whose gradient noise has
covariance Σ/N per step, is asymptotically normal around the minimum with variance
H⁻¹ Σ H⁻¹ / (N K). Both H and Σ are the Fisher information of q in log α at the optimum,
F = α² ψ'(α): the Hessian of KL(q ‖ p) at q = p is F, and there each draw's pathwise
gradient is the score ∂ log q(z) / ∂ log α (the path term (∇ log q − ∇ log p) ∂z/∂ log α
vanishes where q = p), whose variance is F. So the standard error is (F N K)^(-1/2), and the
test allows 5 of them.
"""

from __future__ import annotations

import difflib
import math

import pytest
import torch

NUM_SAMPLES = 256
STEPS = 80
BURN_IN = 20  # the iterate's time constant is 1 / (lr F): 1.4 to 3 steps for α in [1, 3]
ALPHA, RATE = 3.0, 2.0

TORCH_SCRIPT = f"""\
import torch
import reparam

torch.manual_seed(0)
target = torch.distributions.Gamma({ALPHA}, {RATE})  # p, the distribution to fit
rate = torch.tensor({RATE})
log_concentration = torch.zeros((), requires_grad=True)
trace = []
for step in range({STEPS}):
    params = {{"concentration": log_concentration.exp(), "rate": rate}}
    q = torch.distributions.Gamma(**params)

    def kl(z):  # log q(z) - log p(z): its mean over q is KL(q || p)
        return q.log_prob(z) - target.log_prob(z)

    loss = kl(q.rsample(({NUM_SAMPLES},))).mean()
    loss.backward()
    with torch.no_grad():  # a step of gradient descent
        log_concentration -= 0.2 * log_concentration.grad
    log_concentration.grad = None
    trace.append(log_concentration.item())
"""

SWITCHES = {
    "catalog row": (
        "    q = torch.distributions.Gamma(**params)",
        '    q = reparam.distributions.from_catalog("gamma", **params)',
    ),
    "pathwise surrogate": (
        f"    loss = kl(q.rsample(({NUM_SAMPLES},))).mean()",
        f"    loss = reparam.surrogate.pathwise_surrogate(kl, q, None, {NUM_SAMPLES})",
    ),
}


def switched(name: str) -> str:
    """The torch script with one line replaced (the line must occur exactly once)."""
    old, new = SWITCHES[name]
    lines = TORCH_SCRIPT.splitlines(keepends=True)
    assert sum(line.rstrip("\n") == old for line in lines) == 1, name
    return "".join(new + "\n" if line.rstrip("\n") == old else line for line in lines)


def run(script: str) -> list[float]:
    """Execute a script in a fresh namespace; its trace of log α, one entry per step."""
    namespace: dict[str, object] = {}
    exec(compile(script, "<training script>", "exec"), namespace)
    trace = namespace["trace"]
    assert isinstance(trace, list)
    return trace


@pytest.fixture(scope="module")
def traces() -> dict[str, list[float]]:
    state = torch.get_rng_state()  # the scripts seed torch's global generator
    try:
        result = {"torch.distributions": run(TORCH_SCRIPT)}
        result.update({name: run(switched(name)) for name in SWITCHES})
    finally:
        torch.set_rng_state(state)
    return result


@pytest.mark.parametrize("name", list(SWITCHES))
def test_each_switch_changes_exactly_one_line(name: str) -> None:
    diff = [
        line
        for line in difflib.ndiff(TORCH_SCRIPT.splitlines(), switched(name).splitlines())
        if line[:2] in ("- ", "+ ")
    ]
    old, new = SWITCHES[name]
    assert diff == ["- " + old, "+ " + new]


def standard_error() -> float:
    """(F N K)^(-1/2), F = α² ψ'(α) the Fisher information of Gamma(α, rate) in log α."""
    trigamma = torch.polygamma(1, torch.tensor(ALPHA, dtype=torch.float64)).item()
    fisher = ALPHA**2 * trigamma
    return 1 / math.sqrt(fisher * NUM_SAMPLES * (STEPS - BURN_IN))


@pytest.mark.parametrize("name", ["torch.distributions", *SWITCHES])
def test_every_version_reaches_the_exact_optimum(name: str, traces: dict[str, list[float]]) -> None:
    trace = traces[name]
    assert len(trace) == STEPS
    average = sum(trace[BURN_IN:]) / (STEPS - BURN_IN)
    assert abs(average - math.log(ALPHA)) <= 5 * standard_error(), (name, math.exp(average))
    # ... having started far from it (α = 1), so that the test sees the optimiser move
    assert abs(trace[0] - math.log(ALPHA)) > 50 * standard_error()


def test_the_surrogate_retraces_the_torch_script(traces: dict[str, list[float]]) -> None:
    """Without a generator the surrogate draws with torch's rsample from torch's global
    stream, and its loss is the same mean: step for step the same iterates."""
    torch.testing.assert_close(
        torch.tensor(traces["pathwise surrogate"]),
        torch.tensor(traces["torch.distributions"]),
        rtol=1e-6,
        atol=1e-6,
    )

"""reparam.book.optim against torch.optim, step for step (the oracle), and on bad input."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reparam.book import optim, training

F64 = torch.float64


def _loss(params: list[torch.Tensor], matrix: torch.Tensor) -> torch.Tensor:
    # not quadratic, so the gradients change from step to step in every coordinate
    return (matrix @ params[0]).pow(2).sum().sin() + params[1].pow(3).sum()


def _pair(dtype: torch.dtype) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    matrix = torch.randn(5, 5, generator=gen, dtype=dtype)
    ours = [
        torch.randn(5, generator=gen, dtype=dtype).requires_grad_(),
        torch.randn(3, 2, generator=gen, dtype=dtype).requires_grad_(),
    ]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    return ours, theirs, matrix


def _run(
    optimizers: Sequence[Any],
    parameter_lists: Sequence[list[torch.Tensor]],
    matrix: torch.Tensor,
    num_steps: int,
    schedulers: Sequence[Any] = (),
) -> None:
    for _ in range(num_steps):
        for optimizer, params in zip(optimizers, parameter_lists, strict=True):
            optimizer.zero_grad()
            _loss(params, matrix).backward()
            optimizer.step()
        for scheduler in schedulers:
            scheduler.step()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)])
def test_adam_takes_torch_adams_steps(dtype: torch.dtype, betas: tuple[float, float]) -> None:
    ours, theirs, matrix = _pair(dtype)
    start = [p.detach().clone() for p in ours]
    mine = optim.Adam(ours, lr=0.05, betas=betas, eps=1e-6)
    reference = torch.optim.Adam(theirs, lr=0.05, betas=betas, eps=1e-6, foreach=False)
    _run((mine, reference), (ours, theirs), matrix, 40)
    for p, q, p0 in zip(ours, theirs, start, strict=True):
        assert not torch.equal(p, p0)  # the parameters moved
        assert p.dtype == dtype
        # the same operations in the same order: equal to the last bit
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_adam_skips_a_parameter_without_a_gradient_as_torch_does() -> None:
    ours, theirs, matrix = _pair(F64)
    idle, idle_ref = torch.ones(2, dtype=F64, requires_grad=True), torch.ones(2, dtype=F64)
    idle_ref.requires_grad_()
    mine = optim.Adam([*ours, idle], lr=0.05)
    reference = torch.optim.Adam([*theirs, idle_ref], lr=0.05, foreach=False)
    _run((mine, reference), (ours, theirs), matrix, 3)
    # now the idle parameter enters: its first update uses bias corrections for t = 1
    for optimizer, params, extra in ((mine, ours, idle), (reference, theirs, idle_ref)):
        optimizer.zero_grad()
        (_loss(params, matrix) + (extra**2).sum()).backward()
        optimizer.step()
    torch.testing.assert_close(idle, idle_ref, rtol=0, atol=0)
    assert idle[0].item() == pytest.approx(1.0 - 0.05)  # Adam's first step is lr · sign(g)
    assert mine.num_steps == 4


def test_sgd_with_a_schedule_takes_the_steps_of_torch_sgd_with_lambdalr() -> None:
    ours, theirs, matrix = _pair(F64)
    num_steps = 30
    mine = optim.SGD(ours, lr=0.02, schedule=training.cosine_decay(num_steps))
    reference = torch.optim.SGD(theirs, lr=0.02)
    scheduler = torch.optim.lr_scheduler.LambdaLR(reference, training.cosine_decay(num_steps))
    _run((mine, reference), (ours, theirs), matrix, num_steps, (scheduler,))
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-15, atol=1e-15)


def test_sgd_step_by_hand() -> None:
    weight = torch.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    sgd = optim.SGD([weight], lr=0.5, schedule=lambda t: 1.0 / (t + 1))
    for expected in ([0.0, -2.0], [-0.0, -2.0]):  # gradient (2, 0) then (0, 0) at w1 = 0
        sgd.zero_grad()
        (weight[0] ** 2).backward()
        sgd.step()
        assert weight.tolist() == expected
    assert sgd.num_steps == 2
    sgd.zero_grad(set_to_none=False)
    assert weight.grad is not None and weight.grad.abs().sum().item() == 0.0
    sgd.zero_grad()
    assert weight.grad is None
    sgd.step()  # no gradient: nothing moves, the step still counts
    assert weight.tolist() == [0.0, -2.0] and sgd.num_steps == 3


def test_train_runs_with_either_kind_of_optimiser() -> None:
    histories = []
    for make in (
        lambda ps: optim.SGD(ps, lr=0.1),
        lambda ps: torch.optim.SGD(ps, lr=0.1),
    ):
        weight = torch.zeros(1, dtype=F64, requires_grad=True)
        target = torch.linspace(0.0, 1.0, 8, dtype=F64)

        def step(
            indices: torch.Tensor, weight: torch.Tensor = weight, target: torch.Tensor = target
        ) -> float:
            loss = ((weight - target[indices]) ** 2).mean()
            loss.backward()
            return loss.item()

        histories.append(
            training.train(
                step,
                make([weight]),
                8,
                num_steps=20,
                batch_size=4,
                generator=torch.Generator().manual_seed(3),
            ).values
        )
    assert histories[0] == histories[1]


def test_constructing_ours_does_not_import_torchs_compiler() -> None:
    # why the module exists: a fresh interpreter, so no other test has imported it
    code = (
        "import sys, torch\n"
        "from reparam.book import optim\n"
        "w = torch.zeros(2, requires_grad=True)\n"
        "for o in (optim.Adam([w]), optim.SGD([w], lr=0.1)):\n"
        "    w.sum().backward(); o.step(); o.zero_grad()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda w: optim.SGD(w, lr=0.0), ValueError, r"^lr must be strictly positive, got 0"),
        (lambda w: optim.SGD(w, lr=math.nan), ValueError, r"^lr must be finite"),
        (
            lambda w: optim.SGD(w, lr=0.1, schedule=2),  # type: ignore[arg-type]
            TypeError,
            r"^schedule must be callable, got int$",
        ),
        (lambda w: optim.SGD(w[0], lr=0.1), TypeError, r"^params must be an iterable of tensors"),
        (lambda w: optim.SGD([], lr=0.1), ValueError, r"^params must hold at least one tensor"),
        (
            lambda w: optim.Adam([1.0]),  # type: ignore[list-item]
            TypeError,
            r"^params\[0\] must be a Tensor, got float$",
        ),
        (
            lambda w: optim.Adam([torch.zeros(1)]),
            ValueError,
            r"^params\[0\] must be a leaf tensor that requires grad$",
        ),
        (
            lambda w: optim.Adam(w, betas=(0.9,)),  # type: ignore[arg-type]
            TypeError,
            r"^betas must be a tuple of two floats, got \(0.9,\)$",
        ),
        (lambda w: optim.Adam(w, betas=(0.9, 1.0)), ValueError, r"^betas\[1\] must be in \[0, 1\)"),
        (
            lambda w: optim.Adam(w, betas=(-0.1, 0.9)),
            ValueError,
            r"^betas\[0\] must be in \[0, 1\)",
        ),
        (lambda w: optim.Adam(w, eps=0.0), ValueError, r"^eps must be strictly positive, got 0"),
    ],
)
def test_bad_arguments_name_the_parameter(
    call: Callable[[list[torch.Tensor]], object], error: type[Exception], message: str
) -> None:
    weights = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(error, match=message):
        call(weights)


@given(
    lr=st.floats(allow_nan=True, allow_infinity=True),
    beta=st.floats(allow_nan=True, allow_infinity=True),
    eps=st.floats(allow_nan=True, allow_infinity=True),
)
@settings(max_examples=200, deadline=None)
def test_any_float_is_accepted_exactly_when_valid(lr: float, beta: float, eps: float) -> None:
    weights = [torch.zeros(2, requires_grad=True)]
    valid = {
        "lr": math.isfinite(lr) and lr > 0,
        "betas[0]": math.isfinite(beta) and 0.0 <= beta < 1.0,
        "eps": math.isfinite(eps) and eps > 0,
    }
    try:
        adam = optim.Adam(weights, lr=lr, betas=(beta, 0.5), eps=eps)
    except ValueError as error:
        # the message names the first invalid argument, in the order of the signature
        first = next(name for name, ok in valid.items() if not ok)
        assert str(error).startswith(f"{first} must be")
    else:
        assert all(valid.values())
        assert (adam.lr, adam.betas[0], adam.eps) == (lr, beta, eps)

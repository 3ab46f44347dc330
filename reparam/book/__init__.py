"""Support code for the book *The Reparameterization Trick*: not part of the library API.

The chapters import this subpackage for what only a book needs; ``import reparam`` never
imports it, so the library stays free of matplotlib and scikit-learn. Its names may change
from one edition of the book to the next.

- :mod:`reparam.book.plotting` — the book's figures (needs matplotlib).
- :mod:`reparam.book.history` — the timeline data and the bibliography checks.
- :mod:`reparam.book.data` — the digits and breast-cancer data sets (needs scikit-learn,
  imported only when a data set is loaded).
- :mod:`reparam.book.training` — a seeded training loop with a progress bar.
- :mod:`reparam.book.optim` — SGD and Adam, without importing torch's compiler.
- :mod:`reparam.book.vae` — chapter "Variational autoencoders": a VAE and its ELBO estimators.
- :mod:`reparam.book.logistic` — chapter "Bayesian logistic regression": the model and its
  gradient estimators.
"""

import importlib
from types import ModuleType

__all__ = ["data", "history", "logistic", "optim", "plotting", "training", "vae"]


def __getattr__(name: str) -> ModuleType:
    # Submodules load on first use (PEP 562): ``reparam.book.history`` then needs no
    # matplotlib, and ``reparam.book.plotting`` is imported only by a chapter that draws.
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

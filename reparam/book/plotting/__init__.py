"""The book's figures, one module per topic, all in the style of :mod:`reparam.book.plotting.style`.

Colours come from the Okabe–Ito palette, distinguishable under the common forms of
colour-vision deficiency; lines also differ by marker or dash so that figures survive
greyscale printing. Every figure function labels its axes and returns the figure.
"""

from reparam.book.plotting import applications
from reparam.book.plotting.catalog import plot_catalog_densities, plot_implicit_gradient
from reparam.book.plotting.history import plot_timeline
from reparam.book.plotting.montecarlo import plot_error_vs_samples, plot_estimator_histograms
from reparam.book.plotting.style import COLORS, LINESTYLES, book_style, new_axes

__all__ = [
    "COLORS",
    "LINESTYLES",
    "applications",
    "book_style",
    "new_axes",
    "plot_catalog_densities",
    "plot_error_vs_samples",
    "plot_estimator_histograms",
    "plot_implicit_gradient",
    "plot_timeline",
]

"""Figures: labelled axes, the palette, and shape checks (drawn off screen)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from reparam.book import plotting


def test_palette_is_okabe_ito() -> None:
    assert plotting.COLORS["blue"] == "#0072B2"
    assert plotting.COLORS["vermillion"] == "#D55E00"
    assert len(set(plotting.COLORS.values())) == len(plotting.COLORS)


def test_error_plot_has_labels_and_three_series() -> None:
    fig = plotting.plot_error_vs_samples([10, 100, 1000], [0.3, 0.1, 0.03], [0.3, 0.1, 0.03])
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_lines()) == 3 and ax.get_xscale() == "log"
    plt.close(fig)


def test_error_plot_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one length"):
        plotting.plot_error_vs_samples([10, 100], [0.3], [0.3, 0.1])


def test_histograms_draw_every_estimator_and_truth() -> None:
    rng = np.random.default_rng(0)
    fig = plotting.plot_estimator_histograms(
        {"a": rng.normal(size=100), "b": rng.normal(1, 2, size=100)}, truth=0.0
    )
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["a", "b", "exact value"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_estimator_histograms({})

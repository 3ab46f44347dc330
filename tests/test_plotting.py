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


def test_lower_variance_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import multisample as plots
    from reparam.book.plotting.style import figure_problems

    fig = plots.plot_variance_along_path([0.0, 0.5, 1.0], {"a": [2.0, 1.0, 0.5], "b": [1, 0.5, 0]})
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_ylim()[0] == 0.0
    plt.close(fig)
    fig = plots.plot_snr_against_k([1, 4, 16], {"up": [1.0, 2.0, 4.0], "down": [1.0, 0.5, 0.25]})
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # the reference lines: slope +1/2 through the first series, -1/2 through the second
    up_ref, down_ref = ax.get_lines()[2:]
    np.testing.assert_allclose(
        np.asarray(up_ref.get_ydata(), dtype=float), np.array([1.0, 2.0, 4.0])
    )
    np.testing.assert_allclose(
        np.asarray(down_ref.get_ydata(), dtype=float), np.array([1.0, 0.5, 0.25])
    )
    plt.close(fig)
    with pytest.raises(ValueError, match=r"^curve 'a' has shape \(2,\), t has \(3,\)$"):
        plots.plot_variance_along_path([0, 0.5, 1], {"a": [1, 2]})
    with pytest.raises(ValueError, match=r"^num_samples must be 1-d with at least two points"):
        plots.plot_snr_against_k([1], {"a": [1.0]})
    with pytest.raises(ValueError, match=r"^curves must hold 1 to 4 series, got 0$"):
        plots.plot_snr_against_k([1, 2], {})


def test_smarter_sampling_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import sampling as plots
    from reparam.book.plotting.style import figure_problems

    errors = {"iid": [1.0, 0.5, 0.25], "sobol": [1.0, 0.25, 0.06]}
    fig = plots.plot_error_against_n([4, 16, 64], {"d = 2": errors, "d = 16": errors})
    assert figure_problems(fig) == []
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert left.get_title() == "d = 2" and right.get_title() == "d = 16"
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert [line.get_label() for line in left.get_lines()][:2] == ["iid", "sobol"]
    assert left.get_legend() is not None and right.get_legend() is None
    # the reference lines through the first point: slopes -1/2 and -1
    half, one = left.get_lines()[2:]
    np.testing.assert_allclose(np.asarray(half.get_ydata(), dtype=float), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(np.asarray(one.get_ydata(), dtype=float), [1.0, 0.25, 0.0625])
    plt.close(fig)
    fig = plots.plot_variance_against_n([2, 8, 32], {"a": [3.0, 2.0, 1.0]})
    assert figure_problems(fig) == []
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"^panels must hold 1 to 3 panels, got 0$"):
        plots.plot_error_against_n([1, 2], {})
    with pytest.raises(ValueError, match=r"^every panel must have the same series"):
        plots.plot_error_against_n([1, 2], {"a": {"x": [1, 2]}, "b": {"y": [1, 2]}})
    with pytest.raises(ValueError, match=r"^curve 'x' has shape \(1,\)"):
        plots.plot_variance_against_n([1, 2], {"x": [1.0]})


def test_point_set_figure_draws_the_cells_and_checks_its_input() -> None:
    from reparam.book.plotting import sampling as plots
    from reparam.book.plotting.style import figure_problems

    grid = (np.arange(4)[:, None] + 0.5) / 4
    points = np.hstack([grid, grid[::-1]])
    fig = plots.plot_point_sets({"a": points, "b": points})
    assert figure_problems(fig) == []
    left = fig.axes[0]
    assert left.get_title() == "a" and left.get_xlim() == (0.0, 1.0)
    # 3 inner edges per axis for N = 4: 6 grid lines, then the points
    *edges, dots = left.get_lines()
    assert len(edges) == 6
    np.testing.assert_allclose(np.asarray(dots.get_xdata(), dtype=float), points[:, 0])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"^points must hold 1 or 2 point sets, got 3$"):
        plots.plot_point_sets({"a": points, "b": points, "c": points})
    with pytest.raises(ValueError, match=r"^point set 'a' must have shape \(N, 2\)"):
        plots.plot_point_sets({"a": np.zeros((3, 3))})
    with pytest.raises(ValueError, match=r"^point set 'a' must lie in the unit square$"):
        plots.plot_point_sets({"a": points + 1.0})


def test_gaussians_at_scale_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import gaussians as plots
    from reparam.book.plotting.style import figure_problems

    fig = plots.plot_gap_against_step(
        {"full": [9.0, 3.0, 1.0], "mean": [9.0, 5.0, 4.0]}, best_mean_field=3.9
    )
    assert figure_problems(fig) == []
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["full", "mean", "best mean field"]
    assert lines[0].get_marker() in ("", "None")  # lines without markers
    np.testing.assert_allclose(np.asarray(lines[2].get_ydata(), dtype=float), [3.9, 3.9])
    plt.close(fig)
    curves = {"shared": [4.0, 2.0, 1.5], "local": [4.0, 1.0, 0.25]}
    fig = plots.plot_gradient_variance_against_batch(
        [4, 16, 64], {"$M$": curves, "$\\rho$": curves}, predicted_shared={"$M$": [4.0, 2.1, 1.4]}
    )
    assert figure_problems(fig) == []
    left, right = fig.axes
    assert left.get_title() == "gradient of $M$" and right.get_title() == "gradient of $\\rho$"
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert [line.get_label() for line in left.get_lines()] == [
        "shared",
        "local reparam.",
        "shared, predicted",
    ]
    assert len(right.get_lines()) == 2  # no prediction given for this panel
    assert [t.get_text() for t in left.get_xticklabels()] == ["4", "16", "64"]
    assert left.get_legend() is not None and right.get_legend() is None
    plt.close(fig)
    with pytest.raises(ValueError, match=r"^every series in gaps must have one length"):
        plots.plot_gap_against_step({"a": [1.0, 2.0], "b": [1.0]}, best_mean_field=1.0)
    with pytest.raises(ValueError, match=r"^gaps must be finite and positive"):
        plots.plot_gap_against_step({"a": [1.0, 0.0]}, best_mean_field=1.0)
    with pytest.raises(ValueError, match=r"^best_mean_field must be finite and positive"):
        plots.plot_gap_against_step({"a": [1.0, 2.0]}, best_mean_field=0.0)
    with pytest.raises(ValueError, match=r"^variances must hold 1 or 2 panels, got 3"):
        plots.plot_gradient_variance_against_batch([1, 2], {"a": curves, "b": curves, "c": curves})
    with pytest.raises(ValueError, match=r"^unknown methods \['dropout'\]"):
        plots.plot_gradient_variance_against_batch([1, 2], {"a": {"dropout": [1.0, 2.0]}})
    with pytest.raises(ValueError, match=r"^variances must be positive"):
        plots.plot_gradient_variance_against_batch([1, 2], {"a": {"shared": [1.0, -2.0]}})
    with pytest.raises(ValueError, match=r"^predicted_shared\['a'\] must have shape \(2,\)"):
        plots.plot_gradient_variance_against_batch(
            [1, 2], {"a": {"shared": [1.0, 2.0]}}, predicted_shared={"a": [1.0]}
        )


def test_rejection_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import rejection as plots
    from reparam.book.plotting.style import figure_problems

    grid = np.linspace(-3, 3, 7)
    normal = np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi)
    fig = plots.plot_accepted_noise(grid, {"a": normal, "b": 0.5 * normal}, normal, [0.1, -0.2])
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["proposal N(0, 1)", "a", "b"]
    assert len(ax.patches) == 60 and ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_accepted_noise(grid, {}, normal)
    with pytest.raises(ValueError, match=r"densities\['a'\] must match"):
        plots.plot_accepted_noise(grid, {"a": normal[:3]}, normal)
    with pytest.raises(ValueError, match="proposal must match"):
        plots.plot_accepted_noise(grid, {"a": normal}, normal[:3])
    shapes = [0.5, 1.0, 2.0]
    panels = {
        "f = z": {"x": [1.0, 0.5, 0.2], "y": [np.nan, 0.4, 0.1]},
        "f = log z": {"x": [3.0, 1.0, 0.3], "y": [np.nan, 2.0, 0.2]},
    }
    fig = plots.plot_variance_against_shape(shapes, panels)
    assert figure_problems(fig) == []
    assert [ax.get_title() for ax in fig.axes] == ["f = z", "f = log z"]
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in fig.axes)
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["x", "y"]
    plt.close(fig)
    with pytest.raises(ValueError, match="same estimators"):
        plots.plot_variance_against_shape(shapes, {"a": {"x": shapes}, "b": {"y": shapes}})
    with pytest.raises(ValueError, match="must match shapes"):
        plots.plot_variance_against_shape(shapes, {"a": {"x": [1.0]}})
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_variance_against_shape(shapes, {})


def test_policy_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import policy as plots
    from reparam.book.plotting.style import figure_problems

    grid = np.linspace(0.0, 0.99, 12)
    fig = plots.plot_policy_densities(grid, {"a": grid, "b": 1 - grid})
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_xlim() == (0.0, 0.99) and ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_policy_densities(grid, {})
    with pytest.raises(ValueError, match=r"densities\['a'\] must match"):
        plots.plot_policy_densities(grid, {"a": grid[:3]})
    dims, steps = [1, 4, 16], [10, 20]
    kl = {"x": np.array([[1.0, 2.0], [0.5, 0.4]]), "y": np.array([[2.0, 3.0], [1.0, 0.9]])}
    fig = plots.plot_variance_and_training(dims, {"x": [1, 1, 1], "y": [2, 8, 32]}, steps, kl, 0.3)
    assert figure_problems(fig) == []
    left, right = fig.axes
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert right.get_yscale() == "log" and len(right.collections) == 2  # one band per estimator
    plt.close(fig)
    with pytest.raises(ValueError, match="same estimators"):
        plots.plot_variance_and_training(dims, {"y": [1, 1, 1]}, steps, kl, 0.3)
    with pytest.raises(ValueError, match=r"variances\['x'\] must match"):
        plots.plot_variance_and_training(dims, {"x": [1], "y": [1, 2, 3]}, steps, kl, 0.3)
    with pytest.raises(ValueError, match=r"kl\['x'\] must have shape"):
        plots.plot_variance_and_training(dims, {"x": [1, 1, 1], "y": [2, 8, 32]}, [10], kl, 0.3)


def test_diffusion_figures_fit_the_column_and_check_their_input() -> None:
    from reparam.book.plotting import diffusion as plots
    from reparam.book.plotting.style import figure_problems

    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 2))
    fig = plots.plot_forward_process({"a": points, "b": points, "c": points})
    assert figure_problems(fig) == []
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"] and len(fig.axes) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_forward_process({})
    with pytest.raises(ValueError, match=r"panels\['a'\] must have shape"):
        plots.plot_forward_process({"a": points[:, :1]})
    null = rng.uniform(1e-3, 1e-2, size=100)
    fig = plots.plot_samples_and_null(points, points, null, {"x": 5e-3, "y": 10.0})
    assert figure_problems(fig) == []
    assert fig.axes[1].get_xscale() == "log"  # values span more than two decades
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert labels == ["observed: x", "observed: y"]
    plt.close(fig)
    fig = plots.plot_samples_and_null(points, points, null, {"x": 5e-3})
    assert fig.axes[1].get_xscale() == "linear"
    plt.close(fig)
    with pytest.raises(ValueError, match="null must be"):
        plots.plot_samples_and_null(points, points, [], {"x": 1.0})
    with pytest.raises(ValueError, match="observed must"):
        plots.plot_samples_and_null(points, points, null, {})
    with pytest.raises(ValueError, match="samples must have shape"):
        plots.plot_samples_and_null(points, points[:, :1], null, {"x": 1.0})

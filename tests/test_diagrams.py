"""The diagrams of recipes 01 and 02 and the heatmaps of plot_activations."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import helpers



@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts_of(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def artist_count(fig: Figure) -> int:
    (ax,) = fig.axes
    return len(ax.patches) + len(ax.lines) + len(ax.texts)


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


# ------------------------------------------------------------------ diagrams


def test_draw_rnn_cell_draws_the_cell_and_its_optional_output():
    fig = helpers.draw_rnn_cell()
    assert isinstance(fig, Figure)
    texts = texts_of(fig)
    assert r"$g = \tanh$" in texts and r"$y_t = h_t V + c$" in texts


@pytest.mark.parametrize("n_steps", [1, 3, 5])
def test_draw_unrolled_rnn_draws_one_cell_per_step(n_steps):
    fig = helpers.draw_unrolled_rnn(n_steps)
    assert isinstance(fig, Figure)
    assert sum(text.startswith("cell\n") for text in texts_of(fig)) == n_steps
    assert f"$h_{{{n_steps}}} = h_T$" in texts_of(fig)


def test_draw_unrolled_rnn_labels_steps_beyond_nine_with_their_whole_number():
    texts = texts_of(helpers.draw_unrolled_rnn(10))
    assert "$x_{10}$" in texts and "$h_{10} = h_T$" in texts


def test_draw_unrolled_rnn_refuses_no_steps():
    with pytest.raises(ValueError, match="n_steps"):
        helpers.draw_unrolled_rnn(0)


def test_draw_gru_cell_stages_build_on_each_other():
    figures = [helpers.draw_gru_cell(stage) for stage in ("gates", "candidate", "state")]
    assert all(isinstance(fig, Figure) for fig in figures)
    counts = [artist_count(fig) for fig in figures]
    assert counts[0] < counts[1] < counts[2], counts
    for earlier, later in zip(figures, figures[1:]):
        assert set(texts_of(earlier)) - {earlier.axes[0].get_title()} <= set(texts_of(later))


def test_draw_gru_cell_stages_say_which_step_they_are():
    titles = [helpers.draw_gru_cell(stage).axes[0].get_title() for stage in ("gates", "candidate", "state")]
    for number, title in enumerate(titles, start=1):
        assert f"Step {number} of 3" in title
        assert "$z_t$ keeps" in title and "$1-z_t$ writes" in title


def diagram_labels(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]  # the title is not among them


def test_draw_gru_cell_default_is_the_whole_cell():
    whole = helpers.draw_gru_cell()
    assert "Step 3 of 3" in whole.axes[0].get_title()
    assert r"keep: $z_t \odot h_{t-1}$" in diagram_labels(whole) and "$h_t$" in diagram_labels(whole)
    assert not any("keep" in text for text in diagram_labels(helpers.draw_gru_cell("candidate")))
    assert not any("candidate" in text for text in diagram_labels(helpers.draw_gru_cell("gates")))


def test_draw_gru_cell_refuses_an_unknown_stage():
    with pytest.raises(ValueError, match="stage"):
        helpers.draw_gru_cell("output")


# ----------------------------------------------------------------- heatmaps

RNG = np.random.default_rng(0)
GATES = RNG.uniform(0, 1, (100, 8))
STATE = RNG.uniform(-1, 1, (100, 8))
UNIT_IDS = [5, 2, 7, 0, 3, 6, 1, 4]


def heatmaps_of(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_plot_activations_labels_rows_with_unit_ids():
    fig = helpers.plot_activations({"z": GATES, "h": STATE}, marks=[12, 61], unit_ids=UNIT_IDS)
    for ax in heatmaps_of(fig):
        assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in UNIT_IDS]
        assert ax.get_ylabel() == "unit"
    assert len(fig.axes) == 4  # two heatmaps and their two colour bars


def test_plot_activations_keeps_its_colour_scales():
    fig = helpers.plot_activations({"z": GATES, "h": STATE}, unit_ids=UNIT_IDS)
    gate_image, state_image = (ax.images[0] for ax in heatmaps_of(fig))
    assert gate_image.get_clim() == (0.0, 1.0) and gate_image.get_cmap().name == "viridis"
    low, high = state_image.get_clim()
    assert low == -high and state_image.get_cmap().name == "RdBu_r"


def test_plot_activations_marks_sit_above_each_panel_not_on_it():
    fig = helpers.plot_activations({"z": GATES, "h": STATE}, marks=[12, 61], unit_ids=UNIT_IDS)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    for ax in heatmaps_of(fig):
        image = ax.images[0].get_window_extent(renderer)
        assert ax.lines, "the marks are drawn as line artists (markers)"
        for line in ax.lines:
            marks = line.get_window_extent(renderer)
            assert marks.y0 >= image.y1 - 0.5, (marks, image)  # wholly above the image, markers included
            assert marks.y0 - image.y1 < 5  # ... and right above it, not floating away
            centres = line.get_transform().transform(line.get_xydata())[:, 0]
            expected = ax.transData.transform([(12, 0), (61, 0)])[:, 0]
            np.testing.assert_allclose(centres, expected, atol=0.5)  # over the marked columns


def test_plot_activations_legend_covers_nothing():
    fig = helpers.plot_activations({"z": GATES, "h": STATE}, marks=[12, 61], unit_ids=UNIT_IDS)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    top = heatmaps_of(fig)[0]
    legend = top.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["marked step"]
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:  # the heatmaps and the colour bars
        assert not overlaps(box, ax.get_window_extent(renderer)), ax
    assert not overlaps(box, top.title.get_window_extent(renderer))
    assert heatmaps_of(fig)[1].get_legend() is None


def test_plot_activations_unit_ids_label_only_the_panels_with_that_many_units():
    words = ["a", "great", "film", "after", "all"]
    fig = helpers.plot_activations(
        {"z": GATES[:5], "P(positive)": np.full((5, 1), 0.7)}, tokens=words, unit_ids=UNIT_IDS
    )
    z_ax, opinion_ax = heatmaps_of(fig)
    assert [t.get_text() for t in z_ax.get_yticklabels()] == [str(i) for i in UNIT_IDS]
    assert [t.get_text() for t in opinion_ax.get_yticklabels()] != [str(i) for i in UNIT_IDS]
    assert [t.get_text() for t in opinion_ax.get_xticklabels()] == words
    assert fig.axes[1] is opinion_ax  # notebook 02 hides this panel's y ticks through fig.axes[1]


def test_plot_activations_refuses_unit_ids_that_fit_no_panel():
    with pytest.raises(ValueError, match="unit_ids"):
        helpers.plot_activations({"z": GATES}, unit_ids=[0, 1, 2])


def test_plot_activations_without_unit_ids_is_unchanged():
    fig = helpers.plot_activations({"z": GATES})
    (ax,) = heatmaps_of(fig)
    assert ax.get_legend() is None and not ax.lines
    assert ax.get_title() == "z" and ax.get_xlabel() == "time step"

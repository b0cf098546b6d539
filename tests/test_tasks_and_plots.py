"""The synthetic sequence tasks and the plotting helpers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import helpers

# ------------------------------------------------------------------ adding problem


def test_adding_problem_shapes_and_dtypes():
    x, y = helpers.adding_problem(32, 20, seed=1)
    assert x.shape == (32, 20, 2) and x.dtype == np.float32
    assert y.shape == (32, 1) and y.dtype == np.float32


def test_adding_problem_has_one_mark_in_each_half_and_sums_the_marked_values():
    x, y = helpers.adding_problem(500, 30, seed=2)
    values, marks = x[..., 0], x[..., 1]
    assert np.all(marks[:, :15].sum(axis=1) == 1)
    assert np.all(marks[:, 15:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (values * marks).sum(axis=1), rtol=1e-6)
    assert values.min() >= 0 and values.max() <= 1


def test_adding_problem_constant_baseline_is_one_sixth():
    _, y = helpers.adding_problem(200_000, 10, seed=3)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.003)


def test_adding_problem_is_deterministic_per_seed():
    a = helpers.adding_problem(64, 25, seed=7)
    b = helpers.adding_problem(64, 25, seed=7)
    c = helpers.adding_problem(64, 25, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_adding_problem_can_put_both_marks_in_the_first_half():
    x, y = helpers.adding_problem(500, 40, seed=2, marks="first half")
    values, marks = x[..., 0], x[..., 1]
    assert np.all(marks[:, :10].sum(axis=1) == 1)
    assert np.all(marks[:, 10:20].sum(axis=1) == 1)
    assert np.all(marks[:, 20:].sum(axis=1) == 0)
    np.testing.assert_allclose(y[:, 0], (values * marks).sum(axis=1), rtol=1e-6)


def test_adding_problem_rejects_an_unknown_mark_placement():
    with pytest.raises(ValueError, match="marks"):
        helpers.adding_problem(4, 10, marks="anywhere")
    with pytest.raises(ValueError, match="too short"):
        helpers.adding_problem(4, 3, marks="first half")


# ------------------------------------------------------------ remember first token


def test_first_token_label_is_the_first_one_hot_token():
    x, y = helpers.remember_first_token(100, 12, n_tokens=5, seed=4)
    assert x.shape == (100, 12, 5) and x.dtype == np.float32
    assert y.shape == (100,) and y.dtype == np.int32
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(x[:, 0].argmax(axis=-1), y)


def test_first_token_rest_is_independent_noise():
    x, y = helpers.remember_first_token(20_000, 6, n_tokens=4, seed=5)
    later = x[:, 1:].argmax(axis=-1)
    agreement = (later == y[:, None]).mean()
    assert agreement == pytest.approx(1 / 4, abs=0.01)
    assert np.bincount(y, minlength=4) / len(y) == pytest.approx([0.25] * 4, abs=0.02)


def test_first_token_is_deterministic_per_seed():
    a = helpers.remember_first_token(50, 10, seed=9)
    b = helpers.remember_first_token(50, 10, seed=9)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize(
    "task, kwargs",
    [
        (helpers.adding_problem, {"n_samples": 0, "length": 10}),
        (helpers.adding_problem, {"n_samples": 4, "length": 1}),
        (helpers.remember_first_token, {"n_samples": 4, "length": 1}),
        (helpers.remember_first_token, {"n_samples": 4, "length": 5, "n_tokens": 1}),
    ],
)
def test_tasks_refuse_degenerate_sizes(task, kwargs):
    with pytest.raises(ValueError):
        task(**kwargs)


# ------------------------------------------------- the RNN cell and the task harness


def test_rnn_forward_is_the_step_applied_in_a_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3))
    W, U, b = rng.normal(size=(3, 4)), rng.normal(scale=0.5, size=(4, 4)), rng.normal(size=4)
    states = helpers.rnn_forward(x, W, U, b)
    h = np.zeros((2, 4))
    for t in range(5):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        np.testing.assert_allclose(states[:, t], h, atol=1e-15)


def test_rnn_forward_carries_the_state_through_masked_steps():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 3))
    W, U, b = rng.normal(size=(3, 4)), rng.normal(scale=0.5, size=(4, 4)), rng.normal(size=4)
    mask = np.array([[True] * 6, [True, True, False, False, False, False]])
    states = helpers.rnn_forward(x, W, U, b, mask=mask)
    np.testing.assert_array_equal(states[1, 2:], np.repeat(states[1, 1:2], 4, axis=0))
    np.testing.assert_allclose(states[1, 1], helpers.rnn_forward(x[1:, :2], W, U, b)[0, -1], atol=1e-15)
    h0 = rng.normal(size=(2, 4))
    np.testing.assert_allclose(helpers.rnn_forward(x, W, U, b, h0=h0)[:, 0], np.tanh(x[:, 0] @ W + h0 @ U + b))


def test_task_data_uses_fixed_data_seeds_and_passes_options_on():
    (x, y), (x_test, y_test) = helpers.task_data("adding", 12, marks="first half")
    assert x.shape == (helpers.TASK_TRAIN_SIZE, 12, 2) and x_test.shape == (helpers.TASK_TEST_SIZE, 12, 2)
    np.testing.assert_array_equal(x, helpers.adding_problem(helpers.TASK_TRAIN_SIZE, 12, seed=1, marks="first half")[0])
    assert not np.array_equal(x[:10], x_test[:10])
    (x, y), _ = helpers.task_data("first token", 7)
    assert x.shape[-1] == helpers.TASK_TOKENS and y.dtype == np.int32
    with pytest.raises(ValueError, match="task"):
        helpers.task_data("copying", 10)


@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU", "LSTM"])
def test_build_task_model_names_layers_and_depends_only_on_its_seed(kind):
    a = helpers.build_task_model(kind, "first token", 9, seed=5)
    helpers.build_task_model(kind, "adding", 9, seed=6)  # whatever ran before
    b = helpers.build_task_model(kind, "first token", 9, seed=5)
    assert [layer.name for layer in a.layers] == ["recurrent", "head"]
    assert a.output_shape == (None, helpers.TASK_TOKENS)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = helpers.build_task_model(kind, "first token", 9, seed=7)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_task_score_is_mse_or_accuracy():
    model = helpers.build_task_model("GRU", "adding", 5, seed=1)
    x, y = helpers.adding_problem(16, 5, seed=3)
    prediction = np.asarray(model(x))
    assert helpers.task_score(model, "adding", x, y) == pytest.approx(float(np.mean((prediction - y) ** 2)))
    model = helpers.build_task_model("GRU", "first token", 5, seed=1)
    x, y = helpers.remember_first_token(16, 5, seed=3)
    expected = float(np.mean(np.asarray(model(x)).argmax(axis=-1) == y))
    assert helpers.task_score(model, "first token", x, y) == expected


def test_train_on_task_runs_the_fixed_budget_and_learns(monkeypatch):
    # A smaller budget than the recipes' keeps the test fast; a GRU still learns the adding problem at length 6.
    monkeypatch.setattr(helpers, "TASK_STEPS", 400)
    monkeypatch.setattr(helpers, "TASK_TRAIN_SIZE", 6_400)
    data = helpers.task_data("adding", 6)
    model = helpers.build_task_model("GRU", "adding", 6, seed=1)
    mse, seconds = helpers.train_on_task(model, "adding", data)
    assert model.optimizer.iterations.numpy() == 400
    assert mse < 0.05 and seconds > 0


# ----------------------------------------------------------------------- plotting


def texts_of(fig: Figure) -> set[str]:
    return {t.get_text() for t in fig.findobj(matplotlib.text.Text)}


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


HISTORY = {
    "loss": [0.7, 0.5, 0.3, 0.2],
    "val_loss": [0.65, 0.45, 0.5, 0.6],
    "accuracy": [0.5, 0.7, 0.85, 0.9],
    "val_accuracy": [0.55, 0.78, 0.80, 0.79],
}


def test_style_keeps_interactive_mode_switched_on_inside_it():
    was = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        with helpers.style():
            matplotlib.interactive(True)  # what IPython does when the first figure appears
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(was)


def test_style_applies_the_cookbook_rc_params_only_inside():
    with helpers.style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.top"] is True


def test_plot_history_marks_the_best_validation_epoch():
    fig = helpers.plot_history(HISTORY, title="Run A")
    loss_ax, accuracy_ax = fig.axes
    assert "best epoch (2, by val_loss)" in legend_labels(loss_ax)
    assert legend_labels(accuracy_ax)[:2] == ["training", "validation"]
    assert accuracy_ax.get_xlabel() == "epoch" and accuracy_ax.get_ylabel() == "accuracy"
    assert "Run A" in texts_of(fig)


def test_plot_history_best_epoch_by_a_maximised_metric():
    fig = helpers.plot_history(HISTORY, monitor="val_accuracy")
    assert "best epoch (3, by val_accuracy)" in legend_labels(fig.axes[0])


def test_plot_history_accepts_a_keras_history_like_object():
    class History:
        history = HISTORY

    assert isinstance(helpers.plot_history(History()), Figure)


def test_plot_history_names_missing_keys():
    with pytest.raises(KeyError, match="auc"):
        helpers.plot_history(HISTORY, metric="auc")


def test_plot_activations_one_panel_per_array_with_marks():
    rng = np.random.default_rng(0)
    gates = rng.uniform(0, 1, (40, 6))
    state = rng.uniform(-1, 1, (40, 6))
    fig = helpers.plot_activations({"update gate z": gates, "state h": state}, marks=[3, 30])
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmaps] == ["update gate z", "state h"]
    gate_image, state_image = (ax.images[0] for ax in heatmaps)
    assert gate_image.get_clim() == (0.0, 1.0)
    low, high = state_image.get_clim()
    assert low == -high
    assert legend_labels(heatmaps[0]) == ["marked step"]
    assert heatmaps[-1].get_xlabel() == "time step"


def test_plot_activations_labels_time_with_tokens():
    tokens = ["a", "great", "film"]
    fig = helpers.plot_activations({"z": np.full((3, 2), 0.5)}, tokens=tokens)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == tokens


def test_plot_comparison_draws_one_bar_per_cell_and_the_baseline():
    table = pd.DataFrame(
        {
            "length": [10, 10, 50, 50, 100, 100],
            "model": ["RNN", "GRU"] * 3,
            "test MSE": [0.01, 0.005, 0.1, 0.01, 0.16, 0.012],
        }
    )
    fig = helpers.plot_comparison(
        table, x="length", y="test MSE", hue="model", title="MSE", baseline=1 / 6,
        baseline_label="predict 1",
    )
    (ax,) = fig.axes
    assert len(ax.patches) == 6
    assert legend_labels(ax) == ["predict 1", "RNN", "GRU"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "50", "100"]
    assert ax.get_title() == "MSE"


def test_plot_comparison_draws_median_bars_and_every_seed():
    table = pd.DataFrame(
        {
            "length": [10] * 6,
            "model": ["RNN", "RNN", "RNN", "GRU", "GRU", "GRU"],
            "seed": [1, 2, 3] * 2,
            "test MSE": [0.01, 0.05, 0.03, 0.004, 0.001, 0.002],
        }
    )
    fig = helpers.plot_comparison(table, x="length", y="test MSE", hue="model", title="MSE")
    (ax,) = fig.axes
    assert sorted(bar.get_height() for bar in ax.patches) == [0.002, 0.03]  # medians
    dots = sorted(v for line in ax.get_lines() for v in line.get_ydata())
    assert dots == sorted(table["test MSE"])
    assert "each seed (bar: median)" in legend_labels(ax)


def test_plot_length_distribution_marks_percentiles():
    lengths = {"train": np.arange(1, 101), "test": np.arange(1, 101)}
    fig = helpers.plot_length_distribution(lengths, percentiles=(50, 90))
    labels = legend_labels(fig.axes[0])
    assert "50th percentile of train: 50" in labels and "90th percentile of train: 90" in labels
    assert {"train", "test"} <= set(labels)

"""The IMDb classifier, training loop, seed bookkeeping and n-gram baseline pieces that recipes 03 and 04 share."""

import io
import tarfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse

import helpers

# ------------------------------------------------------------------ the classifier


def test_classifier_counts_match_the_gru_formula_and_layers_are_named():
    model = helpers.build_classifier(vocab_size=100, embedding_dim=8, units=4, n_layers=2)
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["embedding", "gru_1", "gru_2", "positive"]
    gru = lambda inputs: 3 * (inputs * 4 + 4 * 4 + 2 * 4)  # noqa: E731  (reset_after=True: two biases per gate)
    assert model.count_params() == 100 * 8 + gru(8) + gru(4) + 4 + 1


def test_with_settings_changes_every_gru_and_nothing_else():
    model = helpers.build_classifier(vocab_size=100, embedding_dim=8, units=4, n_layers=2, spatial_dropout=0.2, head_dropout=0.5)
    variant = helpers.with_settings(model, recurrent_dropout=0.25, reset_after=False)
    assert [layer.name for layer in variant.layers] == [layer.name for layer in model.layers]
    for name in ("gru_1", "gru_2"):
        assert variant.get_layer(name).recurrent_dropout == 0.25 and not variant.get_layer(name).reset_after
        assert model.get_layer(name).recurrent_dropout == 0 and model.get_layer(name).reset_after  # the original is untouched
    assert variant.get_layer("spatial_dropout").rate == 0.2 and variant.get_layer("head_dropout").rate == 0.5
    assert variant.get_layer("embedding").mask_zero


def test_with_settings_draws_fresh_weights_from_its_seed():
    model = helpers.build_classifier(vocab_size=100, embedding_dim=8, units=4)
    first, again, other = (helpers.with_settings(model, seed=seed).get_weights() for seed in (1, 1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    assert [w.shape for w in first] == [w.shape for w in model.get_weights()]


def test_with_settings_fixes_the_length_that_unrolling_needs():
    model = helpers.build_classifier(vocab_size=100, embedding_dim=8, units=4)
    any_length = helpers.with_settings(model, unroll=True)
    any_length.compile(optimizer="adam", loss="binary_crossentropy")
    batches = helpers.bucketed_dataset(np.array([[5, 6, 0, 0], [7, 8, 9, 0]], dtype="int32"), np.ones(2, "float32"), bucket_width=2)
    with pytest.raises(ValueError, match="unroll"):
        any_length.fit(batches, verbose=0, shuffle=False)  # a loop of unknown length cannot be written out
    unrolled = helpers.with_settings(model, length=6, unroll=True)
    assert unrolled.inputs[0].shape == (None, 6) and unrolled.get_layer("gru_1").unroll
    ids = np.array([[5, 6, 7, 0, 0, 0]], dtype="int32")
    loop = helpers.with_settings(model, length=6)
    np.testing.assert_allclose(unrolled.predict(ids, verbose=0), loop.predict(ids, verbose=0), atol=1e-6)  # same weights, same function


def test_with_settings_policy_leaves_the_output_in_float32():
    model = helpers.build_classifier(vocab_size=100, embedding_dim=8, units=4)
    mixed = helpers.with_settings(model, dtype_policy="mixed_bfloat16")
    assert mixed.get_layer("gru_1").compute_dtype == "bfloat16" and mixed.get_layer("gru_1").variable_dtype == "float32"
    assert mixed.get_layer("positive").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # nothing global changed
    half = helpers.with_settings(model, dtype_policy="mixed_float16")
    half.compile(optimizer="adam", loss="binary_crossentropy")
    assert isinstance(half.optimizer, keras.optimizers.LossScaleOptimizer)  # float16 needs loss scaling; compile adds it


def test_every_regularizer_is_off_by_default_and_a_switch_adds_its_layer():
    plain = helpers.build_classifier()
    assert [layer.name for layer in plain.layers[1:]] == ["embedding", "gru_1", "positive"]
    assert plain.get_layer("gru_1").dropout == 0 and plain.get_layer("gru_1").recurrent_dropout == 0
    regularized = helpers.build_classifier(spatial_dropout=0.2, embedding_dropout=0.1, dropout=0.3, head_dropout=0.5, l2=1e-4)
    names = {layer.name for layer in regularized.layers}
    assert {"spatial_dropout", "embedding_dropout", "head_dropout"} <= names
    assert regularized.get_layer("gru_1").dropout == 0.3
    assert regularized.get_layer("embedding").embeddings_regularizer is not None


def test_the_seed_alone_sets_the_initial_weights():
    first = helpers.build_classifier(seed=1, vocab_size=50, embedding_dim=4, units=3)
    keras.utils.set_random_seed(999)  # whatever ran before
    again = helpers.build_classifier(seed=1, vocab_size=50, embedding_dim=4, units=3)
    other = helpers.build_classifier(seed=2, vocab_size=50, embedding_dim=4, units=3)
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_the_mask_makes_padding_irrelevant():
    model = helpers.build_classifier(vocab_size=20, embedding_dim=4, units=3)
    review = np.array([[3, 7, 5]])
    padded = np.array([[3, 7, 5, 0, 0, 0, 0]])
    np.testing.assert_allclose(model(review), model(padded), atol=1e-6)


# ------------------------------------------------------------------ training


def tiny_task(n=256, length=6, seed=0):
    """Token 2 anywhere in a sequence means positive: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, 20, size=(n, length)).astype(np.int32)
    targets = rng.integers(0, 2, size=n).astype(np.float32)
    ids[targets == 1, rng.integers(0, length)] = 2
    return ids, targets


class WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_training_restores_the_best_validation_epoch_even_without_stopping(capsys):
    ids, targets = tiny_task()
    train_ds = helpers.fixed_dataset(ids[:192], targets[:192], batch_size=32, shuffle=True)
    val_ds = helpers.fixed_dataset(ids[192:], targets[192:], batch_size=64)
    model = helpers.build_classifier(vocab_size=20, embedding_dim=4, units=4)
    snapshots = WeightsPerEpoch()
    history, seconds = helpers.train_classifier(
        model, train_ds, val_ds, epochs=4, optimizer=keras.optimizers.Adam(0.05), callbacks=[snapshots]
    )
    assert len(history["val_accuracy"]) == len(seconds) == 4  # patience defaults to the whole run
    best = int(np.argmax(history["val_accuracy"]))
    for kept, at_best in zip(model.get_weights(), snapshots.weights[best]):
        np.testing.assert_array_equal(kept, at_best)
    assert capsys.readouterr().out.count("validation loss") == 4  # one line per epoch


def test_training_is_silent_when_asked(capsys):
    ids, targets = tiny_task(64)
    model = helpers.build_classifier(vocab_size=20, embedding_dim=4, units=2)
    helpers.train_classifier(model, helpers.fixed_dataset(ids, targets), helpers.fixed_dataset(ids, targets),
                             epochs=1, optimizer=keras.optimizers.Adam(0.01), show=False)
    assert capsys.readouterr().out == ""


def test_fixed_dataset_keeps_the_stored_shape_and_every_row():
    ids = np.arange(1, 1 + 10 * 4, dtype=np.int32).reshape(10, 4)
    batches = list(helpers.fixed_dataset(ids, np.arange(10), batch_size=4, shuffle=True))
    assert [tuple(batch.shape) for batch, _ in batches] == [(4, 4), (4, 4), (2, 4)]
    rows = np.concatenate([rows.numpy() for _, rows in batches])
    assert sorted(rows) == list(range(10))
    for batch, batch_rows in batches:
        np.testing.assert_array_equal(batch.numpy(), ids[batch_rows.numpy()])
    full = list(helpers.fixed_dataset(ids, np.arange(10), batch_size=4, shuffle=True, drop_remainder=True))
    assert [tuple(batch.shape) for batch, _ in full] == [(4, 4), (4, 4)]


def test_predictions_come_back_in_the_original_order():
    class FirstTokenOver100(keras.Model):
        def call(self, ids):
            return keras.ops.cast(ids[:, :1], "float32") / 100.0

    ids = np.zeros((300, 60), dtype=np.int32)
    lengths = np.random.default_rng(0).integers(1, 61, size=300)
    for row, length in enumerate(lengths):
        ids[row, :length] = 1 + row % 99
    probabilities = helpers.predict_in_order(FirstTokenOver100(), ids, batch_size=32)
    np.testing.assert_allclose(probabilities, (1 + np.arange(300) % 99) / 100, rtol=1e-6)


def test_accuracy_thresholds_at_one_half():
    assert helpers.accuracy(np.array([0.9, 0.2, 0.51, 0.49]), np.array([1, 0, 0, 0])) == 0.75


# ------------------------------------------------------------------ seeds


def test_over_seeds_calls_once_per_seed_and_summary_reports_the_spread():
    runs = helpers.over_seeds(lambda seed: {"variant": "a" if seed % 2 else "b", "score": float(seed)}, seeds=[1, 2, 3, 5])
    assert runs["seed"].tolist() == [1, 2, 3, 5]
    summary = helpers.seed_summary(runs, "score", by="variant")
    assert summary.loc["a", "mean"] == pytest.approx(3.0) and summary.loc["a", "sd"] == pytest.approx(2.0)
    assert summary.loc["a", ["min", "max", "seeds"]].tolist() == [1.0, 5.0, 3]
    assert list(summary.index) == ["a", "b"]  # groups keep their order of appearance


def test_the_cookbook_compares_over_at_least_three_seeds():
    assert len(set(helpers.SEEDS)) >= 3


def test_seed_comparison_plot_shows_every_seed_the_means_and_the_ranges():
    runs = pd.DataFrame({"variant": ["x"] * 3 + ["y"] * 3, "val accuracy": [0.8, 0.82, 0.81, 0.7, 0.72, 0.71]})
    fig = helpers.plot_seed_comparison(runs, value="val accuracy", by="variant", title="t", baseline=0.5)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["x", "y"]
    assert ax.get_xlabel() == "val accuracy" and ax.get_title() == "t"
    means = [line for line in ax.lines if line.get_marker() == "D"]
    np.testing.assert_allclose(sorted(line.get_xdata()[0] for line in means), [0.71, 0.81])
    seeds = [x for line in ax.lines if line.get_marker() == "o" for x in line.get_xdata()]
    assert sorted(seeds) == sorted(runs["val accuracy"])
    assert ax.get_xlim()[0] < 0.5 < 0.82 < ax.get_xlim()[1]
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert legend == {"range over seeds", "one seed", "mean", "baseline"}


# ------------------------------------------------------------------ n-gram baselines


def test_ngrams_drop_markup_and_rare_ngrams():
    ngrams = helpers.review_ngrams(max_n=2, min_df=2)
    ngrams.fit(["Not good.<br />Great", "not GOOD<br />great", "good film"])
    assert {"not good", "good great", "great"} <= set(ngrams.vocabulary_)  # lower-cased, markup read as a space
    assert "br" not in ngrams.vocabulary_  # it would be in two reviews if the markup stayed
    assert "film" not in ngrams.vocabulary_  # seen in one review only


def test_log_count_ratio_follows_wang_and_manning():
    binary = scipy.sparse.csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
    labels = np.array([1, 1, 0])
    p = 1 + np.array([2, 1, 1])
    q = 1 + np.array([0, 1, 1])
    expected = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(helpers.nb_log_count_ratio(binary, labels), expected)
    assert helpers.nb_log_count_ratio(binary, labels)[0] > 0  # only in positive reviews


# ------------------------------------------------------------------ the book's kind of split


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    reviews = {f"aclImdb/{split}/{folder}/{i}_{rating}.txt": f"{split} {folder} review {i}"
               for split in ("train", "test") for folder, rating in (("pos", 8), ("neg", 2)) for i in range(25)}
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data_dir = tmp_path / "data"
    helpers.load_imdb(archive, data_dir=data_dir)
    return data_dir


def test_book_split_mixes_both_official_halves_80_20(data_dir):
    split = helpers.book_split(validation_size=10, data_dir=data_dir)
    assert [len(split[name]) for name in ("train", "validation", "test")] == [70, 10, 20]
    texts = [set(split[name]["text"]) for name in ("train", "validation", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert len(set().union(*texts)) == 100
    test_texts = " ".join(texts[2])
    assert "train" in test_texts and "test" in test_texts  # reviews from both official halves end up in test
    assert helpers.book_split(validation_size=10, data_dir=data_dir)["test"]["text"].tolist() == split["test"]["text"].tolist()


def test_mean_sd_formats_the_mean_and_the_sample_standard_deviation():
    assert helpers.mean_sd([0.88, 0.89, 0.90]) == "0.8900 ± 0.0100"


# ------------------------------------------------ the pooled classifier (recipe 08)


def test_masked_pooling_ignores_padding_and_matches_numpy():
    rng = np.random.default_rng(1)
    sequences = rng.normal(size=(3, 6, 4)).astype("float32")
    sequences[0, 2:] = 9.0  # padding that would win a plain max and shift a plain mean
    real = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=bool)
    pooled = keras.ops.convert_to_numpy(helpers.MaskedPooling()(sequences, mask=real))
    for row, (sequence, mask) in enumerate(zip(sequences, real)):
        np.testing.assert_array_equal(pooled[row, :4], sequence[mask].max(axis=0))
        np.testing.assert_allclose(pooled[row, 4:], sequence[mask].mean(axis=0), rtol=1e-6)


def test_masked_pooling_without_a_mask_pools_every_step():
    sequences = np.arange(24, dtype="float32").reshape(2, 3, 4) - 12.0  # negative values too
    pooled = keras.ops.convert_to_numpy(helpers.MaskedPooling()(sequences))
    np.testing.assert_allclose(pooled, np.concatenate([sequences.max(axis=1), sequences.mean(axis=1)], axis=1))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_pooled_classifier_ignores_padding_and_counts_its_weights(bidirectional):
    model = helpers.build_pooled_classifier(vocab_size=50, embedding_dim=6, units=5, bidirectional=bidirectional)
    review = np.arange(2, 14, dtype="int32")[None, :]
    outputs = [keras.ops.convert_to_numpy(model(np.pad(review, [(0, 0), (0, extra)]))) for extra in (0, 7, 70)]
    assert all(np.allclose(outputs[0], output, atol=1e-6) for output in outputs[1:])
    directions = 2 if bidirectional else 1
    gru = 3 * (6 * 5 + 5 * 5 + 2 * 5)
    assert model.count_params() == 50 * 6 + directions * gru + (2 * directions * 5 + 1)


def test_pooled_classifier_can_read_the_last_state_instead():
    model = helpers.build_pooled_classifier(vocab_size=50, embedding_dim=6, units=5, pooling=False)
    assert "max_mean_pool" not in [layer.name for layer in model.layers]
    assert model.get_layer("positive").count_params() == 5 + 1


def test_pooled_training_keeps_the_best_epoch_and_reports_every_epoch():
    rng = np.random.default_rng(0)
    ids = {name: rng.integers(1, 30, size=(n, 12)).astype("int32") for name, n in (("train", 64), ("validation", 32))}
    labels = {name: (ids[name][:, 0] > 15).astype("float32") for name in ids}  # learnable from the first token
    model, history, seconds = helpers.train_pooled_classifier(
        ids, labels, seed=1, epochs=2, batch_size=16, vocab_size=30, embedding_dim=4, units=3)
    assert len(history["val_accuracy"]) == len(seconds) == 2
    assert model.name == "pooled_gru_seed_1"


def test_bigram_baselines_score_every_split_with_the_given_strength():
    texts = {"train": np.array(["a good film", "a bad film", "good good fun", "bad dull mess"] * 5),
             "validation": np.array(["good fun", "dull mess"])}
    labels = {"train": np.array([1, 0, 1, 0] * 5), "validation": np.array([1, 0])}
    scores = helpers.bigram_baseline_scores(texts, labels, {"TF-IDF": 10.0, "NB-weighted": 1.0})
    for name, score in scores.items():
        assert score["C"] in (10.0, 1.0) and score["seconds"] >= 0
        assert set(score["logits"]) == {"train", "validation"}
        assert (score["logits"]["validation"] > 0).tolist() == [True, False], name

"""Recipe 03's IMDb pipeline in helpers: splits, standardization, vectorizer, token ids, truncation, buckets."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import helpers

# Ten reviews per class in the training split, of 1 to 20 words, and two per class in test.
TRAIN_REVIEWS = {
    f"aclImdb/train/{folder}/{i}_{rating}.txt": " ".join([word] * (i + 1)) + "<br />"
    for folder, word, rating in [("pos", "good", 8), ("neg", "bad", 2)]
    for i in range(10)
}
TEST_REVIEWS = {
    "aclImdb/test/pos/0_9.txt": "Good!",
    "aclImdb/test/pos/1_10.txt": "Very good.",
    "aclImdb/test/neg/2_1.txt": "Bad.",
    "aclImdb/test/neg/3_3.txt": "Very bad, unknownword.",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in {**TRAIN_REVIEWS, **TEST_REVIEWS}.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data_dir = tmp_path / "data"
    helpers.load_imdb(archive, data_dir=data_dir)  # writes the cache that imdb_splits reads
    return data_dir


# ------------------------------------------------------------------------ splits


def test_splits_hold_out_validation_from_the_training_set(data_dir):
    splits = helpers.imdb_splits(validation_size=4, data_dir=data_dir)
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [16, 4, 4]
    train_texts, validation_texts = set(splits["train"]["text"]), set(splits["validation"]["text"])
    assert not train_texts & validation_texts
    assert train_texts | validation_texts == set(TRAIN_REVIEWS.values())
    assert set(splits["test"]["text"]) == set(TEST_REVIEWS.values())


def test_splits_are_deterministic_per_seed(data_dir):
    first = helpers.imdb_splits(validation_size=4, data_dir=data_dir)
    again = helpers.imdb_splits(validation_size=4, data_dir=data_dir)
    other = helpers.imdb_splits(validation_size=4, seed=0, data_dir=data_dir)
    assert first["validation"]["text"].tolist() == again["validation"]["text"].tolist()
    assert first["validation"]["text"].tolist() != other["validation"]["text"].tolist()


@pytest.mark.parametrize("size", [0, 20])
def test_splits_refuse_an_empty_train_or_validation_set(data_dir, size):
    with pytest.raises(ValueError, match="validation_size"):
        helpers.imdb_splits(validation_size=size, data_dir=data_dir)


# --------------------------------------------------------------- text to token ids


def test_standardization_drops_markup_control_characters_and_punctuation():
    text = "A GREAT film!<br /><br />I'd see it again\x96twice, 10/10."
    standardized = helpers.strip_html_and_punctuation(tf.constant(text)).numpy().decode()
    assert standardized.split() == ["a", "great", "film", "id", "see", "it", "again", "twice", "1010"]


def test_vectorizer_learns_its_vocabulary_from_the_training_texts_only():
    vectorizer = helpers.imdb_vectorizer(["good good good film", "bad film"], vocab_size=10)
    assert vectorizer.get_vocabulary() == ["", "[UNK]", "good", "film", "bad"]
    ids = vectorizer(tf.constant(["Good film, unseen!"])).numpy()
    np.testing.assert_array_equal(ids, [[2, 3, 1]])


def test_token_ids_keep_every_review_whole():
    texts = np.array([" ".join(["good"] * n) for n in (1, 30, 3)] * 700)  # more than one batch of 1,024
    vectorizer = helpers.imdb_vectorizer(texts)
    ids = helpers.token_ids(texts, vectorizer)
    assert isinstance(ids, tf.RaggedTensor) and ids.shape[0] == len(texts)
    np.testing.assert_array_equal(ids.row_lengths().numpy(), [1, 30, 3] * 700)
    assert set(ids.flat_values.numpy()) == {2}


# ------------------------------------------------------------------------ truncate

RAGGED = tf.ragged.constant([[5, 6, 7, 8, 9], [3, 4], [1]])


def test_truncate_keeps_the_last_or_first_tokens_and_pads_on_the_right():
    np.testing.assert_array_equal(helpers.truncate(RAGGED, 3), [[7, 8, 9], [3, 4, 0], [1, 0, 0]])
    np.testing.assert_array_equal(helpers.truncate(RAGGED, 3, keep="first"), [[5, 6, 7], [3, 4, 0], [1, 0, 0]])


def test_truncate_pads_to_max_length_even_when_every_review_is_shorter():
    ids = helpers.truncate(RAGGED, 8)
    assert ids.shape == (3, 8) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids[0], [5, 6, 7, 8, 9, 0, 0, 0])


@pytest.mark.parametrize("max_length, keep, message", [(0, "last", "max_length"), (3, "middle", "keep")])
def test_truncate_refuses_bad_arguments(max_length, keep, message):
    with pytest.raises(ValueError, match=message):
        helpers.truncate(RAGGED, max_length, keep=keep)


# ------------------------------------------------------------------------ buckets


def ids_of_lengths(lengths, max_length):
    ids = np.zeros((len(lengths), max_length), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = np.arange(1, length + 1)
    return ids


@pytest.mark.parametrize("max_length", [64, 100])  # a multiple of the bucket width, and not
def test_buckets_pad_each_batch_to_its_bucket_top_and_keep_every_review_once(max_length):
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, max_length + 1, size=300)
    ids = ids_of_lengths(lengths, max_length)
    dataset = helpers.bucketed_dataset(ids, np.arange(300), batch_size=16, bucket_width=25, shuffle=True)
    tops = {*range(25, max_length, 25), max_length}
    seen = []
    for batch, rows in dataset:
        rows = rows.numpy()
        assert batch.shape[1] in tops
        assert batch.shape[1] >= lengths[rows].max() and batch.shape[1] - 25 < lengths[rows].max()
        np.testing.assert_array_equal(batch.numpy(), ids[rows, : batch.shape[1]])  # rows travel with their ids
        seen.extend(rows)
    assert sorted(seen) == list(range(300))
    assert dataset.cardinality().numpy() == len(list(dataset))


def test_buckets_reshuffle_every_epoch_but_not_without_shuffle():
    ids = ids_of_lengths(np.full(64, 10), 20)

    def first_rows(dataset):
        return next(iter(dataset))[1].numpy().tolist()

    shuffled = helpers.bucketed_dataset(ids, np.arange(64), batch_size=8, shuffle=True)
    assert first_rows(shuffled) != first_rows(shuffled)
    ordered = helpers.bucketed_dataset(ids, np.arange(64), batch_size=8)
    assert first_rows(ordered) == list(range(8)) == first_rows(ordered)

"""Data loading and plotting for the GRU cookbook.

This module is deliberately thin: it fetches and parses data, turns IMDb
reviews into batches of token ids the way recipe 03 explains, holds the
classifier, training loop and seed bookkeeping that recipes 03 and 04 share
(recipe 03 prints their source where it teaches them), the copy of a model
with some settings changed that recipes 05 and 09 time and scale, recipe 08's pooled
classifier and its training run (which its experiment script shares), the
bag-of-n-grams baseline's pieces, generates the synthetic sequence tasks and holds the one
training harness recipes 01 and 02 use on them, the plain RNN cell of recipe
01 (which prints its source; recipe 02 reuses it), loads the glucose readings
of recipe 06 and cuts them into forecasting windows that never span a gap,
scores forecasts on the Clarke error grid, and draws the cookbook's recurring
figures and cell diagrams. The GRU and the gates that recipe 02
teaches live in its notebook, where readers can see them.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tarfile
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

# TensorFlow reads this when it is first imported (through keras): keep its C++ start-up logs quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from cycler import cycler
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression

DATA_DIR = Path(__file__).resolve().parent / "data"

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
IMDB_ARCHIVE_NAME = "aclImdb_v1.tar.gz"
IMDB_COLUMNS = ["text", "label"]

# A review inside the official layout: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt
_REVIEW_PATH = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_SPLITS = ("train", "test")
_SENTIMENTS = {"negative": 0, "positive": 1}


class DataSetUnavailable(RuntimeError):
    """The data set is neither cached nor downloadable; the message says how to get it."""


class BadDataSet(ValueError):
    """A file that should hold the data set is corrupt, truncated, unsafe or malformed."""


# --------------------------------------------------------------------------- IMDb


def load_imdb(
    source: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] = DATA_DIR,
    origin: str = IMDB_URL,
    sha256: str = IMDB_SHA256,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the Large Movie Review Dataset (Maas et al., 2011) as train and test frames.

    Each frame has a ``text`` column (the review, HTML line breaks included)
    and a ``label`` column (1 positive, 0 negative). With the official data
    the frames hold 25,000 reviews each, in the official split, ordered
    positive then negative and by review id.

    Args:
        source: Where to read the reviews from.
            ``None`` (the usual call) reads the cache ``data_dir/imdb/imdb.parquet``;
            without it, downloads the official archive from ``origin``, checks
            its sha256, parses it and writes the cache.
            A path to a ``.tar.gz`` archive in the official layout
            (``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``) is parsed
            and (re)writes the cache, so later calls need no argument.
            A path to a ``.csv`` or ``.csv.gz`` with columns ``review`` and
            ``sentiment`` (``positive``/``negative``), such as Kaggle's
            "IMDB Dataset.csv", is parsed and returned without touching the
            cache. A ``split`` column (``train``/``test``) is honoured;
            without one the reviews are split 50/50 per class with a fixed
            seed, which is *not* the official split (a warning says so).
        data_dir: Folder for the download and the cache.
        origin: URL of the official archive (any URL ``urllib`` can open,
            ``file://`` included).
        sha256: Expected checksum of the download from ``origin``.

    Returns:
        ``(train, test)`` DataFrames.

    Raises:
        DataSetUnavailable: no cache, no ``source`` and the download failed.
        BadDataSet: a corrupt, truncated or unsafe archive, a checksum
            mismatch, or a CSV with the wrong columns, no rows or unknown labels.
        FileNotFoundError: ``source`` does not exist.
    """
    data_dir = Path(data_dir)
    cache = data_dir / "imdb" / "imdb.parquet"
    if source is None:
        if not cache.exists():
            archive = _download_imdb_archive(data_dir, origin, sha256)
            _write_atomically(_read_imdb_archive(archive), cache)
        return _split(pd.read_parquet(cache))

    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(
            f"No IMDb file at {source}. Pass the path of aclImdb_v1.tar.gz (or an "
            "archive in its layout), or of a CSV with columns review,sentiment."
        )
    if source.name.lower().endswith((".csv", ".csv.gz")):
        return _split(_read_imdb_csv(source))
    reviews = _read_imdb_archive(source)
    _write_atomically(reviews, cache)
    return _split(reviews)


def _download_imdb_archive(data_dir: Path, origin: str, sha256: str) -> Path:
    downloads = data_dir / "downloads"
    # get_file silently falls back to /tmp/.keras when cache_dir does not exist yet.
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        path = keras.utils.get_file(
            IMDB_ARCHIVE_NAME,
            origin=origin,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_dir=str(data_dir),
            cache_subdir="downloads",
        )
    except ValueError:
        # get_file leaves a download that fails its checksum on disk.
        (downloads / IMDB_ARCHIVE_NAME).unlink(missing_ok=True)
        raise BadDataSet(
            f"The file downloaded from {origin} does not have the expected sha256 "
            f"{sha256}: it is truncated, corrupt or not the official archive. "
            "It has been deleted; run again to retry the download."
        ) from None
    except Exception as error:  # get_file wraps every network failure in a bare Exception
        raise DataSetUnavailable(
            _imdb_unavailable_message(data_dir, origin, error)
        ) from None
    return Path(path)


def _imdb_unavailable_message(data_dir: Path, origin: str, error: Exception) -> str:
    return (
        f"The IMDb reviews are not cached in {data_dir / 'imdb'} and could not be "
        f"downloaded from {origin} ({error}). On a machine with internet, download "
        f"{IMDB_ARCHIVE_NAME} (84 MB) from https://ai.stanford.edu/~amaas/data/sentiment/ "
        f"and put it at {data_dir / 'downloads' / IMDB_ARCHIVE_NAME}, then run this again; "
        "or pass its path, helpers.load_imdb('path/to/aclImdb_v1.tar.gz'). Kaggle's "
        "'IMDB Dataset.csv' works too: helpers.load_imdb('path/to/IMDB Dataset.csv')."
    )


def _read_imdb_archive(path: Path) -> pd.DataFrame:
    """Parse the reviews straight out of the archive.

    Only the parsed reviews are ever written to disk, so no archive entry can
    land outside ``data/``; an entry whose path is absolute or climbs out with
    ``..`` still marks the archive as untrustworthy, and it is refused.
    """
    rows = []
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                _refuse_escaping_path(member.name, path)
                match = _REVIEW_PATH.search(member.name)
                if not (member.isfile() and match):
                    continue
                split, polarity, review_id, _rating = match.groups()
                text = archive.extractfile(member).read().decode("utf-8")
                rows.append((split, int(polarity == "pos"), int(review_id), text))
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError) as error:
        raise BadDataSet(
            f"{path} is not a readable IMDb archive ({type(error).__name__}: {error}). "
            "It is probably truncated or corrupt: delete it and download it again."
        ) from None
    reviews = pd.DataFrame(rows, columns=["split", "label", "id", "text"])
    missing = [split for split in _SPLITS if split not in set(reviews["split"])]
    if missing:
        raise BadDataSet(
            f"{path} has no {' or '.join(missing)} reviews in the official layout "
            "aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt."
        )
    return _canonical_order(reviews, by_id=True)


def _refuse_escaping_path(name: str, archive: Path) -> None:
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts:
        raise BadDataSet(
            f"{archive} contains the entry {name!r}, whose path leaves the archive's "
            "folder. The archive is refused; the official one has no such entry."
        )


def _read_imdb_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise BadDataSet(f"{path} is empty: expected columns review,sentiment.") from None
    missing = {"review", "sentiment"} - set(frame.columns)
    if missing:
        raise BadDataSet(
            f"{path} lacks the column(s) {sorted(missing)}: expected review,sentiment "
            f"(found {list(frame.columns)})."
        )
    if frame.empty:
        raise BadDataSet(f"{path} has a header but no reviews.")
    sentiment = frame["sentiment"].astype(str).str.strip().str.lower()
    unknown = sorted(set(sentiment) - set(_SENTIMENTS))
    if unknown:
        raise BadDataSet(
            f"{path} has sentiment values {unknown[:5]} besides 'positive' and 'negative'."
        )
    reviews = pd.DataFrame(
        {"text": frame["review"].astype(str), "label": sentiment.map(_SENTIMENTS)}
    )
    if "split" in frame.columns:
        reviews["split"] = frame["split"].astype(str).str.strip().str.lower()
        unknown = sorted(set(reviews["split"]) - set(_SPLITS))
        if unknown:
            raise BadDataSet(f"{path} has split values {unknown[:5]} besides 'train' and 'test'.")
    else:
        warnings.warn(
            f"{path} has no split column: splitting it 50/50 per class with a fixed "
            "seed. This is not the official IMDb train/test split.",
            stacklevel=3,
        )
        reviews["split"] = _seeded_half_split(reviews["label"].to_numpy())
    has_id = "id" in frame.columns
    if has_id:
        reviews["id"] = frame["id"].astype(int)
    return _canonical_order(reviews, by_id=has_id)


def _seeded_half_split(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    split = np.full(len(labels), "test", dtype=object)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        split[members[: len(members) // 2]] = "train"
    return split


def _canonical_order(reviews: pd.DataFrame, *, by_id: bool) -> pd.DataFrame:
    """Train before test, positive before negative, then by id: the order of the official layout."""
    keys = reviews.assign(split_rank=reviews["split"].map({"train": 0, "test": 1}))
    sort_by = ["split_rank", "label"] + (["id"] if by_id else [])
    ascending = [True, False] + ([True] if by_id else [])
    keys = keys.sort_values(sort_by, ascending=ascending, kind="stable")
    return keys[["split", *IMDB_COLUMNS]].reset_index(drop=True)


def _split(reviews: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(
        reviews.loc[reviews["split"] == split, IMDB_COLUMNS].reset_index(drop=True)
        for split in _SPLITS
    )


def _write_atomically(reviews: pd.DataFrame, cache: Path) -> None:
    """Write to a temporary file beside the cache, then rename: a crash never leaves half a cache."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".partial")
    os.close(handle)
    try:
        reviews.to_parquet(temporary, index=False)
        os.replace(temporary, cache)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------- synthetic tasks


def adding_problem(
    n_samples: int, length: int, seed: int = 0, *, marks: str = "halves"
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber, 1997).

    Each sequence has two channels: a value drawn uniformly from [0, 1] and a
    marker that is 1 at exactly two time steps and 0 elsewhere. The target is
    the sum of the two marked values. Always predicting 1 (the mean target)
    scores an MSE of 1/6 ≈ 0.167, the baseline a model must beat.

    ``marks="halves"`` (the original task) puts one mark in each half of the
    sequence, so the later mark is often close to the end;
    ``marks="first half"`` puts one in each quarter of the first half, so
    both are at least ``length // 2`` steps from the end.

    Returns:
        ``x`` of shape ``(n_samples, length, 2)`` and ``y`` of shape
        ``(n_samples, 1)``, both float32.
    """
    _check_task_size(n_samples, length)
    if marks == "halves":
        end = length
    elif marks == "first half":
        end = length // 2
    else:
        raise ValueError(f'marks must be "halves" or "first half", got {marks!r}')
    if end < 2:
        raise ValueError(f"length {length} is too short to place two marks in the {marks}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n_samples, length))
    markers = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    middle = end // 2
    markers[rows, rng.integers(0, middle, n_samples)] = 1.0
    markers[rows, rng.integers(middle, end, n_samples)] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1, keepdims=True).astype(np.float32)
    return x, y


def remember_first_token(
    n_samples: int, length: int, n_tokens: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Classify a sequence by its first token; everything after it is noise.

    Every time step holds a token drawn uniformly from ``n_tokens`` symbols,
    one-hot encoded. The label is the first token, so a model must carry it
    across ``length - 1`` steps of distracting tokens from the same
    vocabulary. Guessing scores ``1 / n_tokens``.

    Returns:
        ``x`` of shape ``(n_samples, length, n_tokens)`` (float32, one-hot)
        and ``y`` of shape ``(n_samples,)`` (int32 token ids).
    """
    _check_task_size(n_samples, length)
    if n_tokens < 2:
        raise ValueError(f"n_tokens must be at least 2, got {n_tokens}")
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, n_tokens, size=(n_samples, length))
    x = np.eye(n_tokens, dtype=np.float32)[tokens]
    return x, tokens[:, 0].astype(np.int32)


def _check_task_size(n_samples: int, length: int) -> None:
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    if length < 2:
        raise ValueError(f"length must be at least 2, got {length}")


# ------------------------------------------- the plain RNN cell (recipe 01; reused by 02)


def rnn_step(x_t: np.ndarray, h_prev: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One step of a plain RNN cell, h_t = tanh(x_t W + h_{t-1} U + b), for every sequence of a batch at once."""
    return np.tanh(x_t @ W + h_prev @ U + b)


def rnn_forward(
    x: np.ndarray,
    W: np.ndarray,
    U: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Unroll the cell over ``x`` of shape (batch, time, features); returns every state, (batch, time, units).

    ``h0`` replaces the zero initial state. Where ``mask[b, t]`` is False the
    step is padding: the cell is skipped and the state carried over unchanged,
    as Keras does.
    """
    batch, time_steps, _ = x.shape
    h = np.zeros((batch, U.shape[0])) if h0 is None else h0
    states = []
    for t in range(time_steps):
        h_new = rnn_step(x[:, t], h, W, U, b)
        h = h_new if mask is None else np.where(mask[:, t, None], h_new, h)
        states.append(h)
    return np.stack(states, axis=1)


# ------------------------------------- training on the synthetic tasks (recipes 01 and 02)

TASK_KINDS = {"SimpleRNN": keras.layers.SimpleRNN, "GRU": keras.layers.GRU, "LSTM": keras.layers.LSTM}
TASK_UNITS = 32
TASK_BATCH_SIZE = 64
TASK_STEPS = 800  # optimizer steps per model: the same budget for every model, task and length
TASK_TRAIN_SIZE = 12_800  # so TASK_STEPS is 4 passes over the training set
TASK_TEST_SIZE = 2_000
TASK_LEARNING_RATE = 1e-2
TASK_TOKENS = 8  # vocabulary of the first-token task


def task_data(
    task: str, length: int, **task_kwargs: Any
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Training and test sets of ``"adding"`` or ``"first token"``: the same data for every model seed.

    Training sequences come from data seed 1, test sequences from data seed 2;
    ``task_kwargs`` go to the generator (e.g. ``marks="first half"``).
    """
    if task == "adding":
        make = adding_problem
    elif task == "first token":
        make = remember_first_token
        task_kwargs = {"n_tokens": TASK_TOKENS, **task_kwargs}
    else:
        raise ValueError(f'task must be "adding" or "first token", got {task!r}')
    return (
        make(TASK_TRAIN_SIZE, length, seed=1, **task_kwargs),
        make(TASK_TEST_SIZE, length, seed=2, **task_kwargs),
    )


def build_task_model(
    kind: str, task: str, length: int, *, seed: int, units: int = TASK_UNITS, **layer_kwargs: Any
) -> keras.Model:
    """A ``kind`` layer ("SimpleRNN", "GRU" or "LSTM") named "recurrent" and a linear "head" on its last state.

    Compiled with the budget every synthetic-task model gets: Adam at
    ``TASK_LEARNING_RATE`` with each weight's gradient clipped to norm 1,
    MSE (adding) or cross-entropy and accuracy (first token), each step
    compiled with XLA. ``seed`` sets the initial weights and the order of the
    training batches.
    """
    keras.utils.set_random_seed(seed)
    features, outputs = (2, 1) if task == "adding" else (TASK_TOKENS, TASK_TOKENS)
    model = keras.Sequential(
        [
            keras.Input((length, features)),
            TASK_KINDS[kind](units, name="recurrent", **layer_kwargs),
            keras.layers.Dense(outputs, name="head"),
        ],
        name=f"{kind.lower()}_{task.replace(' ', '_')}_{length}",
    )
    if task == "adding":
        loss, metrics = "mse", []
    else:
        loss, metrics = keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"]
    model.compile(
        optimizer=keras.optimizers.Adam(TASK_LEARNING_RATE, clipnorm=1.0),
        loss=loss,
        metrics=metrics,
        jit_compile=True,
        steps_per_execution=20,  # 20 steps per call: less Python overhead per step for these small models
    )
    return model


def task_score(model: keras.Model, task: str, x: np.ndarray, y: np.ndarray) -> float:
    """Test MSE (adding) or accuracy (first token), from one plain call of the model."""
    prediction = keras.ops.convert_to_numpy(model(x))  # no compiled test step: saves a compilation
    if task == "adding":
        return float(np.mean((prediction - y) ** 2))
    return float(np.mean(prediction.argmax(axis=-1) == y))


class _PassLine(keras.callbacks.Callback):
    """One short line per pass over the training set instead of a progress bar."""

    def on_epoch_end(self, epoch, logs=None):
        print(f"  pass {epoch + 1}/{self.params['epochs']}: training loss {logs['loss']:.4f}")


def train_on_task(
    model: keras.Model,
    task: str,
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    *,
    show: bool = False,
) -> tuple[float, float]:
    """Train for the fixed budget of ``TASK_STEPS`` steps; return the test score and the seconds it took."""
    (x, y), (x_test, y_test) = data
    passes = TASK_STEPS * TASK_BATCH_SIZE // len(x)
    start = time.perf_counter()
    model.fit(x, y, batch_size=TASK_BATCH_SIZE, epochs=passes, verbose=0, callbacks=[_PassLine()] if show else [])
    return task_score(model, task, x_test, y_test), time.perf_counter() - start


# ------------------------------------------- IMDb as token ids (recipe 03's pipeline)

IMDB_SEED = 42
IMDB_VALIDATION_SIZE = 2_500
IMDB_VOCAB_SIZE = 10_000
# The characters Keras's default standardization strips.
_PUNCTUATION = r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']"
# Windows-1252 dashes and ellipses that became invisible C1 control characters
# in 3% of the reviews; they separate words, like the dashes they stand for.
_C1_CONTROLS = r"[\x{80}-\x{9f}]"


def imdb_splits(
    *,
    validation_size: int = IMDB_VALIDATION_SIZE,
    seed: int = IMDB_SEED,
    data_dir: str | os.PathLike[str] = DATA_DIR,
) -> dict[str, pd.DataFrame]:
    """The recipes' three IMDb splits: ``train``, ``validation`` and ``test``.

    ``validation`` is ``validation_size`` reviews drawn at random (with
    ``seed``) from the official training set and ``train`` is the rest, so
    every choice can be made without looking at the official ``test`` set.
    """
    train_full, test = load_imdb(data_dir=data_dir)
    if not 0 < validation_size < len(train_full):
        raise ValueError(f"validation_size must be between 1 and {len(train_full) - 1}, got {validation_size}")
    shuffled = train_full.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return {"train": shuffled.iloc[validation_size:], "validation": shuffled.iloc[:validation_size], "test": test}


def book_split(
    *, test_share: float = 0.2, validation_size: int = IMDB_VALIDATION_SIZE, seed: int = IMDB_SEED,
    data_dir: str | os.PathLike[str] = DATA_DIR,
) -> dict[str, pd.DataFrame]:
    """The Regularization Cookbook's kind of split: all 50,000 reviews shuffled, then cut 80/20.

    Unlike the official split, the same movies appear in ``train`` and
    ``test``. ``validation`` is ``validation_size`` reviews of the 80% part,
    so that epochs can still be chosen without the test part.
    """
    train_full, test = load_imdb(data_dir=data_dir)
    shuffled = pd.concat([train_full, test], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_test = round(test_share * len(shuffled))
    rest = shuffled.iloc[n_test:]
    return {"train": rest.iloc[validation_size:], "validation": rest.iloc[:validation_size], "test": shuffled.iloc[:n_test]}


@keras.saving.register_keras_serializable(package="gru_cookbook")
def strip_html_and_punctuation(text: tf.Tensor) -> tf.Tensor:
    """Standardize review strings: lower case, no ``<br />``, no C1 controls, no punctuation."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, "<br />", " ")  # before punctuation goes, or "br" would survive
    text = tf.strings.regex_replace(text, _C1_CONTROLS, " ")
    return tf.strings.regex_replace(text, _PUNCTUATION, "")


def imdb_vectorizer(
    train_texts: Sequence[str] | np.ndarray, vocab_size: int = IMDB_VOCAB_SIZE
) -> keras.layers.TextVectorization:
    """A ``TextVectorization`` layer whose vocabulary is learned from ``train_texts`` only.

    Token id 0 is padding and 1 is ``[UNK]`` (any word outside the vocabulary);
    the ``vocab_size - 2`` most frequent training words get the ids after them.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=strip_html_and_punctuation, name="vectorize"
    )
    # adapt on a tf.data pipeline of batches is far faster than on a NumPy array.
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(np.asarray(train_texts)).batch(512))
    return vectorizer


def token_ids(texts: Sequence[str] | np.ndarray, vectorizer: keras.layers.TextVectorization) -> tf.RaggedTensor:
    """Every review's token ids, whole: a ragged ``(n_reviews, None)`` tensor.

    Vectorizing is the slow step, so do it once per split and cut the result
    to a maximum length with :func:`truncate`, as often as needed.
    """

    def vectorize(batch: tf.Tensor) -> tf.RaggedTensor:
        return tf.RaggedTensor.from_tensor(vectorizer(batch), padding=0)

    batches = tf.data.Dataset.from_tensor_slices(np.asarray(texts)).batch(1024).map(vectorize)
    return tf.concat(list(batches), axis=0)


def truncate(ids: tf.RaggedTensor, max_length: int, keep: str = "last") -> np.ndarray:
    """Each review's ``last`` (or ``first``) ``max_length`` token ids, right-padded with 0.

    Returns an int32 array of shape ``(n_reviews, max_length)``.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be positive, got {max_length}")
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    kept = ids[:, -max_length:] if keep == "last" else ids[:, :max_length]
    return kept.to_tensor(default_value=0, shape=[None, max_length]).numpy().astype(np.int32)


def bucketed_dataset(
    ids: np.ndarray,
    targets: np.ndarray,
    *,
    batch_size: int = 64,
    bucket_width: int = 50,
    shuffle: bool = False,
    seed: int = IMDB_SEED,
) -> tf.data.Dataset:
    """``(token ids, target)`` batches of reviews of similar length, each padded only to its bucket's top.

    ``ids`` is right-padded with 0, as :func:`truncate` returns it. Buckets
    hold lengths 1–``bucket_width``, the next ``bucket_width``, and so on up
    to ``ids.shape[1]``, so a recurrent layer spends few steps on padding.
    With ``shuffle`` the reviews are reshuffled every epoch; the number of
    batches does not change, and the dataset reports it, so Keras knows the
    length of an epoch.
    """
    max_length = ids.shape[1]
    tops = sorted({*range(bucket_width, max_length, bucket_width), max_length})
    boundaries = [top + 1 for top in tops]  # a bucket holds lengths below its boundary

    def drop_padding(row: tf.Tensor, target: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return row[: tf.math.count_nonzero(row)], target

    def length_of(row: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        return tf.shape(row)[0]

    dataset = tf.data.Dataset.from_tensor_slices((ids, targets))
    if shuffle:
        dataset = dataset.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(drop_padding).bucket_by_sequence_length(
        length_of, boundaries, [batch_size] * (len(boundaries) + 1), pad_to_bucket_boundary=True
    )
    bucket_sizes = np.bincount(np.searchsorted(boundaries, (ids > 0).sum(axis=1), side="right"))
    n_batches = int(np.ceil(bucket_sizes / batch_size).sum())
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(tf.data.AUTOTUNE)


def fixed_dataset(
    ids: np.ndarray,
    targets: np.ndarray,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = IMDB_SEED,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """``(token ids, target)`` batches of the stored shape (no bucketing); reshuffled every epoch with ``shuffle``.

    Every batch but the last has one shape (every batch, with ``drop_remainder``,
    which leaves out the last ``len(targets) % batch_size`` reviews of each
    epoch). One shape suits XLA (``jit_compile=True``), which compiles once per
    shape, and sequences cut to a length most reviews reach anyway.
    """
    dataset = tf.data.Dataset.from_tensor_slices((ids, targets))
    if shuffle:
        dataset = dataset.shuffle(len(targets), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------ IMDb classifiers (recipes 03 and 04)

SEEDS = (1, 2, 3)  # every comparison a recipe ranks is trained once per seed


def build_classifier(
    name: str = "gru_classifier",
    *,
    seed: int = IMDB_SEED,
    vocab_size: int = IMDB_VOCAB_SIZE,
    embedding_dim: int = 64,
    units: int = 64,
    n_layers: int = 1,
    mask: bool = True,
    spatial_dropout: float = 0.0,
    embedding_dropout: float = 0.0,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    l2: float = 0.0,
    head_dropout: float = 0.0,
) -> keras.Model:
    """token ids -> Embedding (-> dropout) -> ``n_layers`` GRUs (-> Dropout) -> Dense(1, sigmoid).

    Every regularizer is off by default. ``seed`` seeds Keras first, so a
    variant's initial weights and dropout masks depend on the seed alone, not
    on what ran before. ``spatial_dropout`` drops whole embedding channels
    (``SpatialDropout1D``), ``embedding_dropout`` single entries (``Dropout``);
    ``dropout`` and ``recurrent_dropout`` are the GRU's own; ``l2`` penalizes
    the embedding and the GRU's kernels; ``head_dropout`` sits before the output.
    """
    keras.utils.set_random_seed(seed)
    penalty = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=mask, embeddings_regularizer=penalty, name="embedding"
    )(inputs)
    if spatial_dropout:  # both dropout layers pass the mask on
        x = keras.layers.SpatialDropout1D(spatial_dropout, name="spatial_dropout")(x)
    if embedding_dropout:
        x = keras.layers.Dropout(embedding_dropout, name="embedding_dropout")(x)
    for i in range(1, n_layers + 1):
        x = keras.layers.GRU(
            units,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            kernel_regularizer=penalty,
            recurrent_regularizer=penalty,
            return_sequences=i < n_layers,
            name=f"gru_{i}",
        )(x)
    if head_dropout:
        x = keras.layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="positive")(x)
    return keras.Model(inputs, outputs, name=name)


# Recipe 03's final model (its settings for build_classifier), which recipes 05 and 09 and the benchmarks time and scale.
RECIPE_03_MODEL = {"embedding_dim": 64, "units": 64, "spatial_dropout": 0.2, "dropout": 0.2, "head_dropout": 0.5}


def with_settings(
    model: keras.Model,
    *,
    seed: int = IMDB_SEED,
    length: int | None = None,
    dtype_policy: str | None = None,
    **gru_options: Any,
) -> keras.Model:
    """A fresh copy of ``model`` (new weights, drawn with ``seed``) with some settings changed.

    Every ``GRU`` layer gets ``gru_options`` (``recurrent_dropout=0.2``,
    ``unroll=True``, ``use_cudnn=False``...), the input takes sequences of
    ``length`` tokens (``None``: any length; ``unroll`` needs a fixed one),
    and every layer but the last computes under ``dtype_policy`` (such as
    ``"mixed_bfloat16"``); the output layer stays in float32, since a sigmoid
    and a cross-entropy lose precision in 16 bits. Built with
    ``keras.models.clone_model``, which rebuilds each layer from its config.
    """
    output_layer = model.layers[-1]

    def rebuild(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, keras.layers.GRU):
            config.update(gru_options)
        if dtype_policy and isinstance(layer, keras.layers.Layer) and layer is not output_layer:  # not plain ops
            config["dtype"] = dtype_policy
        return layer.__class__.from_config(config)

    keras.utils.set_random_seed(seed)
    previous_policy = keras.config.dtype_policy()
    if dtype_policy:  # the model's own policy too: under mixed_float16, compile() then adds loss scaling
        keras.config.set_dtype_policy(dtype_policy)
    try:
        inputs = keras.Input(shape=(length,), dtype=model.inputs[0].dtype, name=model.inputs[0].name)
        return keras.models.clone_model(model, input_tensors=inputs, clone_function=rebuild)
    finally:
        keras.config.set_dtype_policy(previous_policy)


@keras.saving.register_keras_serializable(package="gru_cookbook")
class MaskedPooling(keras.layers.Layer):
    """Max and mean of a sequence over its real (unmasked) steps, concatenated: ``(batch, steps, d) -> (batch, 2d)``.

    Padding must not count: a padding step could win the max, and it would pull
    the mean towards whatever a recurrent layer emits there (Keras repeats the
    last real output). Recipe 08 reads a GRU's whole output sequence this way.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, sequence, mask=None):
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(sequence)[:2], dtype="bool")
        real = keras.ops.cast(keras.ops.expand_dims(mask, -1), sequence.dtype)  # 1 at real steps, 0 at padding
        lowest = keras.ops.min(sequence) - 1.0  # below every real value, so padding never wins the max
        # Arithmetic, not ops.where: exact at real steps, and no boolean kernel (which oneDNN logs about on some CPUs).
        maximum = keras.ops.max(sequence * real + (1.0 - real) * lowest, axis=1)
        mean = keras.ops.sum(sequence * real, axis=1) / keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)
        return keras.ops.concatenate([maximum, mean], axis=-1)

    def compute_mask(self, sequence, mask=None):
        return None  # one vector per review: nothing left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[2])


def build_pooled_classifier(
    name: str = "pooled_gru",
    *,
    seed: int = IMDB_SEED,
    vocab_size: int = IMDB_VOCAB_SIZE,
    embedding_dim: int = 64,
    units: int = 64,
    bidirectional: bool = False,
    pooling: bool = True,
    spatial_dropout: float = 0.2,
    head_dropout: float = 0.3,
) -> keras.Model:
    """token ids -> Embedding(mask) -> SpatialDropout1D -> GRU (or BiGRU) -> MaskedPooling -> Dropout -> Dense(1, sigmoid).

    With ``pooling`` the GRU returns its whole output sequence and the head
    reads its max and mean over the review's real tokens; without it, the
    last state (recipe 03's readout). ``bidirectional`` adds a second GRU
    that reads the review backwards; their outputs are concatenated. ``seed``
    seeds Keras first, so initial weights and dropout masks depend on it alone.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(inputs)
    x = keras.layers.SpatialDropout1D(spatial_dropout, name="spatial_dropout")(x)
    gru = keras.layers.GRU(units, return_sequences=pooling, name="gru")
    x = keras.layers.Bidirectional(gru, name="bigru")(x) if bidirectional else gru(x)
    if pooling:
        x = MaskedPooling(name="max_mean_pool")(x)
    x = keras.layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="positive")(x)
    return keras.Model(inputs, outputs, name=name)


class EpochLog(keras.callbacks.Callback):
    """Keeps each epoch's wall time and, with ``show``, prints one short line per epoch instead of a progress bar."""

    def __init__(self, show: bool = True):
        super().__init__()
        self.show = show
        self.seconds: list[float] = []

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)
        if self.show:
            print(
                f"  epoch {epoch + 1}: loss {logs['loss']:.3f}, accuracy {logs['accuracy']:.3f} | "
                f"validation loss {logs['val_loss']:.3f}, accuracy {logs['val_accuracy']:.3f} | {self.seconds[-1]:.0f} s"
            )


def train_classifier(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    *,
    epochs: int,
    optimizer: keras.optimizers.Optimizer,
    patience: int | None = None,
    jit_compile: bool | str = "auto",
    show: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[dict[str, list[float]], list[float]]:
    """Compile with binary cross-entropy and accuracy, fit, and keep the best epoch's weights.

    ``EarlyStopping`` watches validation accuracy and, whether or not it stops
    the run (after ``patience`` epochs without a gain; by default never),
    restores the weights of the epoch with the best validation accuracy.
    Returns the history dict and every epoch's seconds.
    """
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    log = EpochLog(show)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=patience or epochs, restore_best_weights=True
    )
    # shuffle=False: a tf.data pipeline shuffles already (Keras cannot shuffle a Dataset and would warn).
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[log, stopper, *callbacks]
    )
    return history.history, log.seconds


def train_pooled_classifier(
    ids: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    *,
    seed: int,
    epochs: int = 3,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.0,
    show: bool = False,
    **model_options: Any,
) -> tuple[keras.Model, dict[str, list[float]], list[float]]:
    """Recipe 08's training run: :func:`build_pooled_classifier` on bucketed ``ids["train"]``, best validation epoch kept.

    Adam (``AdamW`` when ``weight_decay`` is set) with a learning rate that
    follows a cosine from ``learning_rate`` down to zero over ``epochs``;
    ``model_options`` go to :func:`build_pooled_classifier`. Returns the model
    (best-validation weights restored), its history and every epoch's seconds.
    """
    # Seed before the pipeline: tf.data's shuffle order depends on the global seed as well as its own,
    # so without this a run's batch order would depend on whatever ran before it.
    keras.utils.set_random_seed(seed)
    train_ds = bucketed_dataset(ids["train"], labels["train"], batch_size=batch_size, shuffle=True, seed=seed)
    val_ds = bucketed_dataset(ids["validation"], labels["validation"], batch_size=256)
    model = build_pooled_classifier(f"pooled_gru_seed_{seed}", seed=seed, **model_options)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * int(train_ds.cardinality()))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay) if weight_decay else keras.optimizers.Adam(schedule)
    history, seconds = train_classifier(model, train_ds, val_ds, epochs=epochs, optimizer=optimizer, show=show)
    return model, history, seconds


def predict_in_order(model: keras.Model, ids: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probability of "positive" for every review in ``ids``, in its original order.

    Bucketing reorders the reviews, so each review's row number travels
    through the pipeline in place of its label and puts its probability back.
    """
    probabilities = np.empty(len(ids), dtype="float32")
    for batch, rows in bucketed_dataset(ids, np.arange(len(ids)), batch_size=batch_size):
        probabilities[rows.numpy()] = np.asarray(model.predict_on_batch(batch))[:, 0]
    return probabilities


def accuracy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """The share of reviews whose probability is on the same side of 0.5 as their 0/1 label."""
    return float(np.mean((np.asarray(probabilities) > 0.5) == (np.asarray(targets) == 1)))


def over_seeds(run: Callable[[int], Mapping[str, Any]], seeds: Sequence[int] = SEEDS) -> pd.DataFrame:
    """Call ``run(seed)`` for every seed; one row per seed, with a ``seed`` column."""
    return pd.DataFrame([{"seed": seed, **run(seed)} for seed in seeds])


def mean_sd(values: Sequence[float]) -> str:
    """``"mean ± sd"`` of a few seeds' scores, to four decimals (sample standard deviation)."""
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def seed_summary(runs: pd.DataFrame, value: str, by: str | Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation, minimum and maximum of ``value`` over seeds, per group of ``by``."""
    summary = runs.groupby(by, sort=False)[value].agg(["mean", "std", "min", "max", "count"])
    return summary.rename(columns={"std": "sd", "count": "seeds"})


# ------------------------------------------------- bag-of-n-grams baselines (recipe 03)


def review_ngrams(max_n: int = 2, min_df: int = 2) -> CountVectorizer:
    """A scikit-learn ``CountVectorizer`` of the words and word n-grams (up to ``max_n``) of a review.

    Lower-cased, with the ``<br />`` markup removed; n-grams seen in fewer than
    ``min_df`` training reviews are dropped (they cannot generalize anyway).
    """
    return CountVectorizer(
        preprocessor=lambda text: text.lower().replace("<br />", " "), ngram_range=(1, max_n), min_df=min_df
    )


def nb_log_count_ratio(binary_counts: Any, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Wang & Manning's (2012) Naive Bayes log-count ratio of every feature: log(p / |p|) - log(q / |q|).

    ``p`` and ``q`` are the feature counts over positive and negative reviews,
    each smoothed by ``alpha``. Scaling binary features by this ratio before a
    linear classifier gives their NBSVM (here with logistic regression: NBLR).
    """
    labels = np.asarray(labels)
    p = alpha + np.asarray(binary_counts[labels == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(binary_counts[labels == 0].sum(axis=0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


def bigram_baseline_scores(
    texts: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], C: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Recipe 03's two bag-of-bigrams baselines, refitted: each one's logit for every review of every split.

    ``texts`` and ``labels`` hold ``train`` and the splits to score. ``C`` maps
    ``"TF-IDF"`` and/or ``"NB-weighted"`` to the logistic regression's inverse
    regularization strength (recipe 03 chose them on validation). Returns, per
    baseline, ``logits`` (a dict of arrays, one per split) and ``seconds`` (the
    fit alone; counting the n-grams of all splits is reported as ``count seconds``).
    """
    started = time.perf_counter()
    ngrams = review_ngrams(max_n=2, min_df=2)
    counts = {"train": ngrams.fit_transform(texts["train"])}
    counts |= {name: ngrams.transform(split) for name, split in texts.items() if name != "train"}
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts["train"])
    present = {name: (matrix > 0).astype("float32") for name, matrix in counts.items()}
    ratio = nb_log_count_ratio(present["train"], labels["train"])
    features = {
        "TF-IDF": {name: tfidf.transform(matrix) for name, matrix in counts.items()},
        "NB-weighted": {name: matrix.multiply(ratio).tocsr() for name, matrix in present.items()},
    }
    count_seconds = time.perf_counter() - started
    scores = {}
    for name, strength in C.items():
        started = time.perf_counter()
        model = LogisticRegression(C=strength, solver="liblinear", max_iter=1_000).fit(features[name]["train"], labels["train"])
        scores[name] = {
            "C": strength, "seconds": time.perf_counter() - started, "count seconds": count_seconds,
            "logits": {split: model.decision_function(matrix) for split, matrix in features[name].items()},
        }
    return scores


# ---------------------------------------------------------------------- plotting

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "axes.prop_cycle": cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "legend.frameon": False,
}


@contextmanager
def style() -> Iterator[None]:
    """The cookbook's figure style, for figures a notebook draws itself."""
    with plt.rc_context(STYLE):
        try:
            yield
        finally:
            # The first figure of an IPython session switches interactive mode on; rc_context
            # would switch it off again on exit, and later figures would silently not show.
            interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def plot_history(
    history: Any,
    *,
    metric: str = "accuracy",
    monitor: str = "val_loss",
    title: str = "Training history",
) -> Figure:
    """Loss and one metric per epoch, training against validation, best epoch marked.

    Args:
        history: a ``keras.callbacks.History`` or its ``.history`` dict.
        metric: the metric drawn in the second panel.
        monitor: the validation series that picks the best epoch (a minimum
            for names containing "loss", a maximum otherwise), as
            ``EarlyStopping`` and ``ModelCheckpoint`` would.
    """
    logs = dict(getattr(history, "history", history))
    for key in ("loss", metric, monitor):
        if key not in logs:
            raise KeyError(f"history has no {key!r}; it has {sorted(logs)}")
    series = np.asarray(logs[monitor])
    best = int(np.argmin(series) if "loss" in monitor else np.argmax(series)) + 1
    epochs = np.arange(1, len(logs["loss"]) + 1)
    with style():
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for ax, key in zip(axes, ("loss", metric)):
            ax.plot(epochs, logs[key], marker="o", label="training")
            if f"val_{key}" in logs:
                ax.plot(epochs, logs[f"val_{key}"], marker="o", label="validation")
            ax.axvline(best, color="grey", linestyle="--", label=f"best epoch ({best}, by {monitor})")
            ax.set(xlabel="epoch", ylabel=key, title=key.replace("_", " "))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="best")  # "best" keeps the legend off the curves and the best-epoch line
        fig.suptitle(title)
    return fig


def plot_activations(
    panels: Mapping[str, np.ndarray],
    *,
    marks: Sequence[int] = (),
    tokens: Sequence[str] | None = None,
    title: str = "Activations over time",
    unit_ids: Sequence[int] | None = None,
) -> Figure:
    """Heatmaps of per-time-step activations, one panel per named array of shape (time, units).

    Arrays in [0, 1] (gates) use a sequential colour map from 0 to 1; arrays
    with negative values (hidden states) use a diverging one centred on 0.
    ``marks`` points at time steps worth looking at with a red triangle above
    each panel, outside the heatmap, so no cell is hidden; the legend sits
    above the first panel. ``tokens`` labels the time axis with the input
    tokens. ``unit_ids`` labels the rows of every panel with that many units
    with these ids (for example the original ids of units shown sorted), and
    makes the panels tall enough to read one label per row.

    Raises:
        ValueError: ``unit_ids`` is given but no panel has ``len(unit_ids)`` units.
    """
    arrays = {name: np.asarray(values) for name, values in panels.items()}
    if unit_ids is not None and not any(v.shape[-1] == len(unit_ids) for v in arrays.values()):
        shapes = {name: v.shape for name, v in arrays.items()}
        raise ValueError(f"{len(unit_ids)} unit_ids, but no panel has that many units: {shapes}")
    with style():
        heights = [_activation_panel_height(v, unit_ids) for v in arrays.values()]
        fig, axes = plt.subplots(
            len(arrays), 1, figsize=(11, sum(heights) + 0.6), sharex=True, squeeze=False,
            height_ratios=heights,
        )
        for ax, (name, values) in zip(axes[:, 0], arrays.items()):
            _draw_activation_panel(fig, ax, name, values, unit_ids)
            if len(marks):
                _mark_steps_above(ax, marks)
        if len(marks):
            axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1,
                              handletextpad=0.3, fontsize=9)
        bottom = axes[-1, 0]
        bottom.set_xlabel("time step")
        if tokens is not None:
            bottom.set_xticks(np.arange(len(tokens)), tokens, rotation=90, fontsize=8)
        fig.suptitle(title)
    return fig


def _activation_panel_height(values: np.ndarray, unit_ids: Sequence[int] | None) -> float:
    """Inches for one heatmap: 2.3, or enough for one legible unit label per row."""
    if unit_ids is None or values.shape[-1] != len(unit_ids):
        return 2.3
    return max(2.3, 0.12 * len(unit_ids) + 0.9)


def _draw_activation_panel(
    fig: Figure, ax: plt.Axes, name: str, values: np.ndarray, unit_ids: Sequence[int] | None
) -> None:
    """One heatmap with its colour bar, its title, and its rows labelled by unit."""
    if values.min() >= 0.0 and values.max() <= 1.0:
        cmap, vmin, vmax = "viridis", 0.0, 1.0
    else:
        limit = float(np.abs(values).max()) or 1.0
        cmap, vmin, vmax = "RdBu_r", -limit, limit
    image = ax.imshow(values.T, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label=name)
    ax.set_title(name, pad=14)  # room for the marks above the panel
    ax.set_ylabel("unit")
    if unit_ids is not None and values.shape[-1] == len(unit_ids):
        ax.set_yticks(np.arange(len(unit_ids)), [str(int(i)) for i in unit_ids], fontsize=7)
        ax.tick_params(axis="y", length=2, pad=1)
    ax.grid(False)


def _mark_steps_above(ax: plt.Axes, marks: Sequence[int]) -> None:
    """A red triangle just above the panel at each marked step, pointing down at its column."""
    size = 7.0  # points; the triangle's centre is raised by half of it, so its tip touches the panel
    above = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(
        0, 0.55 * size / 72, ax.figure.dpi_scale_trans
    )
    ax.plot(
        np.asarray(marks), np.full(len(marks), 1.0), linestyle="none", marker="v", markersize=size,
        markeredgewidth=0, color="red", transform=above, clip_on=False, label="marked step",
    )


def plot_comparison(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str,
    title: str,
    baseline: float | None = None,
    baseline_label: str = "baseline",
    log_scale: bool = False,
) -> Figure:
    """A grouped bar chart of a results table: one group per value of ``x``, one bar per ``hue``.

    Each bar is the median of the rows that share its ``x`` and ``hue`` (for
    example one row per seed); where there is more than one, every row is
    drawn on the bar as a black dot, so the spread over seeds is visible.
    ``baseline`` draws a horizontal reference line (for example the MSE of a
    constant prediction, or chance accuracy).
    """
    medians = table.pivot_table(index=x, columns=hue, values=y, aggfunc="median", sort=False)
    n_groups, n_bars = medians.shape
    width = 0.8 / n_bars
    positions = np.arange(n_groups)
    with style():
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * n_groups * n_bars ** 0.5 + 3), 3.8))
        dots_labelled = False
        for i, name in enumerate(medians.columns):
            centres = positions + (i - (n_bars - 1) / 2) * width
            ax.bar(centres, medians[name], width, label=str(name))
            for centre, group in zip(centres, medians.index):
                rows = table.loc[(table[x] == group) & (table[hue] == name), y]
                if len(rows) > 1:
                    ax.plot(np.full(len(rows), centre), rows, "o", color="black", markersize=3.5, zorder=3,
                            label=None if dots_labelled else "each seed (bar: median)")
                    dots_labelled = True
        if log_scale:
            ax.set_yscale("log")
        if baseline is not None:
            ax.axhline(baseline, color="black", linestyle="--", linewidth=1, label=baseline_label)
            ax.set_ylim(top=max(ax.get_ylim()[1], baseline * (1.5 if log_scale else 1.08)))
        ax.set_xticks(positions, [str(v) for v in medians.index])
        ax.set(xlabel=x, ylabel=y, title=title)
        ax.legend(title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_seed_comparison(
    runs: pd.DataFrame,
    *,
    value: str,
    by: str,
    title: str,
    baseline: float | None = None,
    baseline_label: str = "baseline",
) -> Figure:
    """One row per variant: every seed's ``value`` as a dot, the mean as a diamond, the range as a line.

    Noise and differences show together: two rows whose ranges overlap
    widely are not told apart by these seeds.
    """
    groups = list(dict.fromkeys(runs[by]))
    with style():
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(groups) + 1.6))
        for row, group in enumerate(groups):
            values = runs.loc[runs[by] == group, value].to_numpy()
            first = row == 0
            ax.hlines(row, values.min(), values.max(), color=PALETTE[0], linewidth=2, label="range over seeds" if first else None)
            ax.plot(values, np.full(len(values), row), "o", color=PALETTE[0], alpha=0.6, label="one seed" if first else None)
            ax.plot(values.mean(), row, "D", color="black", markersize=7, label="mean" if first else None)
        if baseline is not None:
            ax.axvline(baseline, color="grey", linestyle="--", linewidth=1, label=baseline_label)
        ax.set_yticks(range(len(groups)), groups)
        ax.set_ylim(len(groups) - 0.5, -0.5)  # first group on top
        ax.set(xlabel=value, title=title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_length_distribution(
    lengths: Mapping[str, np.ndarray],
    *,
    percentiles: Sequence[int] = (50, 90),
    unit: str = "words",
    title: str = "Sequence lengths",
) -> Figure:
    """Overlaid histograms of sequence lengths, with percentiles of the first series marked."""
    with style():
        fig, ax = plt.subplots(figsize=(9, 3.6))
        upper = max(float(np.percentile(v, 99.5)) for v in lengths.values())
        bins = np.linspace(0, upper, 60)
        for name, values in lengths.items():
            ax.hist(np.clip(values, 0, upper), bins=bins, alpha=0.55, label=name)
        first_name, first = next(iter(lengths.items()))
        for q, linestyle in zip(percentiles, ["--", ":", "-.", (0, (1, 4))]):
            at = np.percentile(first, q)
            ax.axvline(at, color="black", linestyle=linestyle, label=f"{q}th percentile of {first_name}: {at:.0f}")
        ax.set(xlabel=f"{unit} per sequence (clipped at the 99.5th percentile)", ylabel="count", title=title)
        ax.legend()
    return fig


# ------------------------------------------------------------------- diagrams


def _draw_box(
    ax: plt.Axes,
    center: tuple[float, float],
    text: str,
    *,
    width: float = 1.7,
    height: float = 0.9,
    color: str = "#dbe9f6",
    dashed: bool = False,
) -> None:
    """A rounded box with centred text: one operation of a diagram."""
    x, y = center
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.06",
            facecolor=color, edgecolor="black", linestyle="--" if dashed else "-", linewidth=1.3,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=12)


def _draw_arrow(
    ax: plt.Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    dashed: bool = False,
    text: str | None = None,
    text_offset: tuple[float, float] = (0.0, 0.25),
) -> None:
    """An arrow from ``start`` to ``end``, with an optional label beside its middle."""
    ax.annotate(
        "", xy=end, xytext=start,
        arrowprops=dict(
            arrowstyle="-|>", linewidth=1.5, color="black",
            linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0,
        ),
    )
    if text:
        middle = ((start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1])
        ax.text(*middle, text, ha="center", va="center", fontsize=12)


def draw_rnn_cell() -> Figure:
    """One step of a simple RNN as a box-and-arrow diagram: h_t = g(x_t W + h_{t-1} U + b).

    The optional output layer y_t = h_t V + c is drawn dashed: Keras adds it as
    a separate ``Dense`` layer.
    """
    with style():
        fig, ax = plt.subplots(figsize=(9, 4.6))
        # The cell's boundary: everything inside is one SimpleRNN step.
        ax.add_patch(
            FancyBboxPatch((-3.1, -2.35), 6.4, 3.4, boxstyle="round,pad=0.1",
                           facecolor="#f7f7f7", edgecolor="grey", linestyle="--")
        )
        ax.text(-2.95, 0.8, "one SimpleRNN step: the same W, U, b at every step", fontsize=10, color="grey")
        _draw_box(ax, (-1.9, 0), r"$h_{t-1}\,U$")
        _draw_box(ax, (0, -1.5), r"$x_t\,W$")
        _draw_box(ax, (0, 0), r"$+\;b$", width=1.1, color="#fde9c9")
        _draw_box(ax, (2.0, 0), r"$g = \tanh$", width=1.6, color="#d7f0d2")
        _draw_arrow(ax, (-4.6, 0), (-2.75, 0), text=r"$h_{t-1}$")
        _draw_arrow(ax, (0, -3.2), (0, -1.95), text=r"$x_t$", text_offset=(0.35, -0.2))
        _draw_arrow(ax, (-1.05, 0), (-0.55, 0))
        _draw_arrow(ax, (0, -1.05), (0, -0.45))
        _draw_arrow(ax, (0.55, 0), (1.2, 0))
        # below the arrow, clear of the dashed branch to the output layer
        _draw_arrow(ax, (2.8, 0), (5.2, 0), text=r"$h_t$ (to step $t+1$)", text_offset=(0.45, -0.3))
        _draw_box(ax, (4.3, 1.7), r"$y_t = h_t V + c$", width=2.0, color="white", dashed=True)
        _draw_arrow(ax, (4.3, 0), (4.3, 1.25), dashed=True)
        _draw_arrow(ax, (4.3, 2.15), (4.3, 2.9), dashed=True, text=r"$y_t$ (optional)", text_offset=(0.85, 0.1))
        ax.set(xlim=(-4.8, 6.3), ylim=(-3.4, 3.3), title=r"A recurrent cell: $h_t = g(x_t W + h_{t-1} U + b)$")
        ax.set_axis_off()
    return fig


def draw_unrolled_rnn(n_steps: int = 4) -> Figure:
    """The RNN cell unrolled over ``n_steps`` time steps: one box per step, the same weights in each.

    The per-step outputs y_t are drawn dashed: a model may read them or only
    the last state h_T.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    with style():
        fig, ax = plt.subplots(figsize=(11, 3.8))
        spacing = 2.6
        _draw_arrow(ax, (-1.0, 0), (spacing - 0.85, 0), text=r"$h_0$")
        for t in range(1, n_steps + 1):
            x = t * spacing
            _draw_box(ax, (x, 0), "cell\n" + r"$W, U, b$", width=1.5, height=1.1)
            _draw_arrow(ax, (x, -2.0), (x, -0.6), text=fr"$x_{{{t}}}$", text_offset=(0.3, -0.35))
            _draw_arrow(ax, (x, 0.6), (x, 1.7), dashed=True, text=fr"$y_{{{t}}}$", text_offset=(0.35, 0.3))
            end = x + spacing - 0.85 if t < n_steps else x + 1.8
            label = fr"$h_{{{t}}}$" if t < n_steps else fr"$h_{{{t}}} = h_T$"
            _draw_arrow(ax, (x + 0.85, 0), (end, 0), text=label)
        ax.text(spacing, -2.5, "the same cell (same weights) at every time step; "
                "dashed: optional per-step outputs", fontsize=10, color="grey")
        ax.set(xlim=(-1.2, n_steps * spacing + 2.2), ylim=(-2.8, 2.4), title="The cell unrolled over time")
        ax.set_axis_off()
    return fig


GRU_DIAGRAM_STAGES = ("gates", "candidate", "state")
_GRU_STAGE_TITLES = {
    "gates": r"Step 1 of 3: the gates read $x_t$ and $h_{t-1}$",
    "candidate": r"Step 2 of 3: the reset gate scales $h_{t-1}$ for the candidate $\tilde h_t$",
    "state": r"Step 3 of 3: $z_t$ keeps $h_{t-1}$, $1-z_t$ writes $\tilde h_t$, their sum is $h_t$",
}
# Where the GRU diagram's parts sit: the state line, the update gate's row, the input bus, the blocks.
_GRU_TOP, _GRU_MID, _GRU_BUS, _GRU_BLOCKS = 5.0, 4.0, 1.1, 2.3
_GRU_BACKGROUND = "#f5f5f5"


def draw_gru_cell(stage: str = "state") -> Figure:
    """The GRU cell as a data-flow diagram, whole or built up in three stages.

    ``h_{t-1}`` enters on the top left, ``x_t`` from below; both feed the
    blocks below the state line. Each stage adds to the one before it:

    - ``"gates"``: the inputs and the reset gate r_t and update gate z_t;
    - ``"candidate"``: adds the reset gate's ⊙ on h_{t-1} and the tanh candidate h̃_t;
    - ``"state"`` (the whole cell): adds keep z_t ⊙ h_{t-1}, write (1 − z_t) ⊙ h̃_t and their sum h_t.

    The labels follow Keras and PyTorch: z_t keeps, 1 − z_t writes.

    Raises:
        ValueError: ``stage`` is not one of ``GRU_DIAGRAM_STAGES``.
    """
    if stage not in GRU_DIAGRAM_STAGES:
        raise ValueError(f"stage must be one of {GRU_DIAGRAM_STAGES}, got {stage!r}")
    with style():
        fig, ax = plt.subplots(figsize=(10, 5.4))
        # A fixed frame rather than constrained layout: every stage puts each part at the same place.
        fig.set_layout_engine("none")
        ax.set_position((0.01, 0.01, 0.98, 0.85))
        ax.set(xlim=(0, 11), ylim=(0, 5.7), aspect="equal")
        ax.axis("off")
        _draw_gru_gates(ax)
        if stage in ("candidate", "state"):
            _draw_gru_candidate(ax)
        if stage == "state":
            _draw_gru_state(ax)
        ax.set_title(
            _GRU_STAGE_TITLES[stage]
            + "\n"
            + r"(GRU cell, Keras and PyTorch convention: $z_t$ keeps, $1-z_t$ writes)"
        )
    return fig


def _gru_colors() -> tuple[str, str, str]:
    """Colours of the update gate, the reset gate and the candidate."""
    return PALETTE[0], PALETTE[3], PALETTE[2]


def _gru_wire(
    ax: plt.Axes,
    points: Sequence[tuple[float, float]],
    *,
    color: str = "black",
    arrow: bool = True,
    halo: bool = False,
) -> None:
    """A polyline through ``points``, ending in an arrowhead unless ``arrow`` is false.

    ``halo`` draws a band of the background's colour around it, above the
    plain wires, so a wire it crosses shows a gap there.
    """
    effects = [patheffects.withStroke(linewidth=6, foreground=_GRU_BACKGROUND)] if halo else None
    zorder = 2.5 if halo else 2
    xs, ys = zip(*points)
    ax.plot(xs[:-1] if arrow else xs, ys[:-1] if arrow else ys, color=color, lw=1.5,
            path_effects=effects, zorder=zorder, solid_capstyle="butt")
    if arrow:
        ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=14,
                                     color=color, lw=1.5, shrinkA=0, shrinkB=0, zorder=zorder))


def _gru_block(ax: plt.Axes, x: float, y: float, text: str, color: str, caption: str) -> None:
    """A coloured block (a gate or the candidate) with its caption below it."""
    ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.3), 0.9, 0.6, boxstyle="round,pad=0.05",
                                facecolor=color, edgecolor="black", zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=12, color="white", weight="bold", zorder=4)
    # the caption sits on the wire that feeds the block: its background hides the wire behind it
    ax.text(x, y - 0.62, caption, ha="center", va="center", fontsize=9, color=color, zorder=4,
            bbox=dict(boxstyle="square,pad=0.15", facecolor=_GRU_BACKGROUND, edgecolor="none"))


def _gru_node(ax: plt.Axes, x: float, y: float, text: str) -> None:
    """A small circle holding an elementwise operation."""
    ax.add_patch(Circle((x, y), 0.25, facecolor="white", edgecolor="black", zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=4)


def _draw_gru_gates(ax: plt.Axes) -> None:
    """Stage 1: the cell's boundary, the inputs, and the reset and update gates that read them."""
    z_color, r_color, _ = _gru_colors()
    top, bus, blocks = _GRU_TOP, _GRU_BUS, _GRU_BLOCKS
    ax.add_patch(FancyBboxPatch((1.25, 0.7), 8.75, 4.7, boxstyle="round,pad=0.1", facecolor=_GRU_BACKGROUND,
                                edgecolor="grey", linestyle="--", zorder=0))
    ax.text(1.4, 5.2, "one GRU step", color="grey", fontsize=9)
    ax.text(0.45, top, r"$h_{t-1}$", ha="center", va="center", fontsize=13)
    ax.text(1.75, 0.3, r"$x_t$", ha="center", va="center", fontsize=13)
    # x_t from below and h_{t-1} dropped down share one bus that feeds the blocks
    _gru_wire(ax, [(1.75, 0.5), (1.75, bus)], arrow=False)
    _gru_wire(ax, [(0.85, top), (1.0, top), (1.0, bus), (4.5, bus)], arrow=False)
    ax.text(3.5, bus + 0.2, r"$x_t,\ h_{t-1}$", ha="center", va="center", fontsize=9)
    for x in (2.5, 4.5):
        _gru_wire(ax, [(x, bus), (x, blocks - 0.3)])
    _gru_block(ax, 2.5, blocks, r"$\sigma$", r_color, r"reset gate $r_t$")
    _gru_block(ax, 4.5, blocks, r"$\sigma$", z_color, r"update gate $z_t$")


def _draw_gru_candidate(ax: plt.Axes) -> None:
    """Stage 2: the reset gate scales h_{t-1}, and the tanh candidate reads the result and x_t."""
    _, r_color, h_color = _gru_colors()
    top, bus, blocks = _GRU_TOP, _GRU_BUS, _GRU_BLOCKS
    # the candidate reads x_t alone from below; h_{t-1} reaches it only through the reset gate
    x_only = bus - 0.25
    _gru_wire(ax, [(1.75, x_only), (8.5, x_only)], arrow=False)
    _gru_wire(ax, [(8.5, x_only), (8.5, blocks - 0.3)])
    ax.text(6.5, x_only + 0.12, r"$x_t$ only", ha="center", va="center", fontsize=9)
    _gru_block(ax, 8.5, blocks, "tanh", h_color, r"candidate $\tilde h_t$")
    _gru_wire(ax, [(1.0, top), (3.5, top), (3.5, 3.55)])
    _gru_node(ax, 3.5, 3.3, r"$\odot$")
    _gru_wire(ax, [(2.5, blocks + 0.3), (2.5, 3.3), (3.25, 3.3)], color=r_color)
    _gru_wire(ax, [(3.75, 3.3), (8.2, 3.3), (8.2, blocks + 0.3)])
    ax.text(6.35, 3.45, r"$r_t \odot h_{t-1}$  (reset-after: $r_t \odot (h_{t-1} U_h + b'_h)$)",
            ha="center", va="bottom", fontsize=9)


def _draw_gru_state(ax: plt.Axes) -> None:
    """Stage 3: z_t keeps part of h_{t-1}, 1 − z_t writes part of the candidate, their sum is h_t."""
    z_color, _, h_color = _gru_colors()
    top, mid, blocks = _GRU_TOP, _GRU_MID, _GRU_BLOCKS
    ax.text(10.65, top, r"$h_t$", ha="center", va="center", fontsize=13)
    _gru_wire(ax, [(3.5, top), (5.25, top)])
    _gru_wire(ax, [(5.75, top), (9.15, top)])
    _gru_wire(ax, [(9.65, top), (10.3, top)])
    _gru_node(ax, 5.5, top, r"$\odot$")
    _gru_node(ax, 9.4, top, "+")
    # the update gate's wire crosses the reset gate's: its halo leaves a gap there
    _gru_wire(ax, [(4.5, blocks + 0.3), (4.5, mid), (5.5, mid), (5.5, top - 0.25)], color=z_color, halo=True)
    _gru_wire(ax, [(5.5, mid), (6.95, mid)], color=z_color)
    _gru_node(ax, 7.2, mid, r"$1-$")
    _gru_wire(ax, [(7.45, mid), (9.15, mid)], color=z_color)
    _gru_node(ax, 9.4, mid, r"$\odot$")
    _gru_wire(ax, [(8.95, blocks), (9.4, blocks), (9.4, mid - 0.25)], color=h_color)
    _gru_wire(ax, [(9.4, mid + 0.25), (9.4, top - 0.25)])
    ax.text(5.7, top - 0.45, r"keep: $z_t \odot h_{t-1}$", va="center", fontsize=9, color=z_color)
    ax.text(9.1, mid + 0.5, "write:\n" + r"$(1-z_t) \odot \tilde h_t$", ha="right", va="center",
            fontsize=9, color=h_color)


# --- Glucose forecasting (recipe 06) -------------------------------------------------------------------------------

GLUCOSE_PACKAGE = "bokeh_sampledata"  # pinned in requirements.txt; ships CGM.csv.gz (public domain)
GLUCOSE_FILE = "CGM.csv.gz"
GLUCOSE_SHA256 = "91fdad8325541a4487d88cb59b2fc9f6ed821c7c01eaabed0606bbb7089be8de"
GLUCOSE_STEP = pd.Timedelta(minutes=5)  # the sensor's reading interval
GLUCOSE_RANGE = (40.0, 400.0)  # the sensor clips its readings to this range (mg/dL)


def load_glucose(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One person's continuous glucose monitor readings, as the sensor reported them.

    Reads ``CGM.csv.gz`` from the ``bokeh_sampledata`` package (or ``path``) after checking its
    sha256. Returns one row per reading, indexed by time in sorted order: ``glucose`` in mg/dL
    and ``isig``, the sensor's raw current, NaN where the sensor reported ``nil``.
    """
    if path is None:
        path = _glucose_file()
    path = Path(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != GLUCOSE_SHA256:
        raise BadDataSet(f"{path}: sha256 {digest}, expected {GLUCOSE_SHA256} (bokeh_sampledata==2026.1's file)")
    readings = pd.read_csv(path, na_values={"isig": ["nil"]}, parse_dates=["datetime"], dtype={"glucose": "float64"})
    return readings.set_index("datetime").sort_index()[["glucose", "isig"]]


def _glucose_file() -> Path:
    try:
        files = importlib.resources.files(GLUCOSE_PACKAGE)
    except ModuleNotFoundError:
        raise DataSetUnavailable(
            f"The glucose readings come with the {GLUCOSE_PACKAGE} package, which is not installed: "
            f"pip install {GLUCOSE_PACKAGE}==2026.1 (it is in the cookbook's requirements.txt)."
        ) from None
    return Path(str(files / "_data" / GLUCOSE_FILE))


def glucose_gaps(readings: pd.DataFrame, longer_than: pd.Timedelta = 2 * GLUCOSE_STEP) -> pd.DataFrame:
    """The gaps between consecutive readings longer than ``longer_than``: start, end and duration."""
    times = readings.index.to_series()
    duration = times.diff()
    gap = duration > longer_than
    return pd.DataFrame({"start": times.shift()[gap].to_numpy(), "end": times[gap].to_numpy(),
                         "duration": duration[gap].to_numpy()})


def regular_glucose(readings: pd.DataFrame, fill_up_to: int = 1) -> pd.DataFrame:
    """The readings on a regular 5-minute grid: NaN where the sensor was silent.

    Readings falling in the same 5-minute bin (the sensor's clock drifts, and it resynchronizes) are
    averaged. Runs of at most ``fill_up_to`` empty bins between two readings are interpolated
    linearly (``filled`` marks them); longer runs stay NaN: they are the gaps no window may span.
    """
    grid = readings.resample(GLUCOSE_STEP).mean()
    empty = grid["glucose"].isna()
    filled = grid["glucose"].interpolate(limit=fill_up_to, limit_area="inside")
    run_id = (empty != empty.shift()).cumsum()  # a run of empty bins too long for the fill stays empty in full
    run_length = empty.groupby(run_id).transform("sum")
    fillable = empty & (run_length <= fill_up_to)
    grid["glucose"] = grid["glucose"].where(~fillable, filled)
    grid["filled"] = fillable & grid["glucose"].notna()
    return grid


def split_by_time(grid: pd.DataFrame, fractions: Sequence[float] = (0.70, 0.15, 0.15)) -> dict[str, pd.DataFrame]:
    """Consecutive periods (train, validation, test) of the grid, in time order, never shuffled across."""
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must add up to 1, got {fractions}")
    edges = np.round(np.cumsum([0.0, *fractions]) * len(grid)).astype(int)
    names = ("train", "validation", "test")
    return {name: grid.iloc[start:end] for name, start, end in zip(names, edges[:-1], edges[1:])}


@dataclass(frozen=True)
class GlucoseWindows:
    """Forecasting examples: ``inputs`` (n, steps, features), ``targets`` (n, horizons) in mg/dL,
    ``last`` the last input reading in mg/dL, and ``times`` the time of that last reading."""

    inputs: np.ndarray
    targets: np.ndarray
    last: np.ndarray
    times: pd.DatetimeIndex


def glucose_segments(grid: pd.DataFrame) -> list[tuple[int, int]]:
    """(start, stop) row ranges of the grid with a glucose value in every row: the stretches between gaps."""
    present = np.concatenate([[False], grid["glucose"].notna().to_numpy(), [False]])
    changes = np.flatnonzero(present[1:] != present[:-1])
    return list(zip(changes[::2], changes[1::2]))


def glucose_windows(
    grid: pd.DataFrame, features: np.ndarray, input_steps: int, horizons: Sequence[int]
) -> GlucoseWindows:
    """Every window of ``input_steps`` rows of ``features`` whose inputs and targets lie inside one segment.

    ``features`` is (len(grid), n_features), aligned with the grid rows. The targets are the glucose
    readings ``horizons`` steps after each window's last row. ``keras.utils.timeseries_dataset_from_array``
    cuts every window of the grid in one pass; those with a gap row anywhere between their first input
    and their last target are dropped, so no window spans a gap.
    """
    if min(horizons) < 1:
        raise ValueError(f"horizons must be at least 1 step after the window, got {horizons}")
    glucose = grid["glucose"].to_numpy("float32")
    features = np.asarray(features, dtype="float32")
    reach = max(horizons)
    n_windows = len(grid) - input_steps - reach + 1
    if n_windows <= 0:
        raise ValueError(f"no segment is long enough for {input_steps} input steps and a horizon of {reach}")
    ends = input_steps - 1 + np.arange(n_windows)  # the row of each window's last input
    targets = np.stack([glucose[ends + h] for h in horizons], axis=1)
    windows = keras.utils.timeseries_dataset_from_array(
        features[: n_windows + input_steps - 1], targets, sequence_length=input_steps, batch_size=n_windows,
        shuffle=False,
    )
    inputs, targets = (tensor.numpy() for tensor in next(iter(windows)))
    # Keep a window only if no row from its first input to its last target lies in a gap.
    gap_rows_before = np.concatenate([[0], np.cumsum(np.isnan(glucose))])
    usable = gap_rows_before[ends + reach + 1] == gap_rows_before[ends - input_steps + 1]
    if not usable.any():
        raise ValueError(f"no segment is long enough for {input_steps} input steps and a horizon of {reach}")
    return GlucoseWindows(inputs[usable], targets[usable], glucose[ends[usable]], grid.index[ends[usable]])


def clarke_zones(reference: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The Clarke error grid zone ("A" to "E") of each (reference, prediction) pair, in mg/dL.

    Clarke et al. (1987): A, clinically accurate (within 20%, or both at or below 70); B, benign errors;
    C, overcorrection; D, failure to detect hypo- or hyperglycaemia; E, erroneous treatment. The
    boundaries are those of the widely used implementation of the published grid.
    """
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    if np.isnan(ref).any() or np.isnan(pred).any():
        raise ValueError("a NaN reading or forecast has no Clarke zone: drop it first")
    zone_a = ((ref <= 70) & (pred <= 70)) | ((pred <= 1.2 * ref) & (pred >= 0.8 * ref))
    zone_e = ((ref >= 180) & (pred <= 70)) | ((ref <= 70) & (pred >= 180))
    zone_c = (((ref >= 70) & (ref <= 290)) & (pred >= ref + 110)) | (
        ((ref >= 130) & (ref <= 180)) & (pred <= 7 / 5 * ref - 182))
    zone_d = ((ref >= 240) & (pred >= 70) & (pred <= 180)) | ((ref <= 175 / 3) & (pred <= 180) & (pred >= 70)) | (
        ((ref >= 175 / 3) & (ref <= 70)) & (pred >= 6 / 5 * ref))
    return np.select([zone_a, zone_e, zone_c, zone_d], ["A", "E", "C", "D"], default="B")


CLARKE_ZONES = ("A", "B", "C", "D", "E")
# The grid's boundary segments in mg/dL, ((x0, x1), (y0, y1)), as the published figure draws them.
_CLARKE_LINES = [
    ((0, 175 / 3), (70, 70)), ((175 / 3, 400 / 1.2), (70, 400)), ((70, 70), (84, 400)), ((0, 70), (180, 180)),
    ((70, 290), (180, 400)), ((70, 70), (0, 56)), ((70, 400), (56, 320)), ((180, 180), (0, 70)),
    ((180, 400), (70, 70)), ((240, 240), (70, 180)), ((240, 400), (180, 180)), ((130, 180), (0, 70)),
]
_CLARKE_LABELS = {"A": [(30, 15)], "B": [(370, 260), (280, 370)], "C": [(160, 370), (160, 15)],
                  "D": [(30, 140), (370, 120)], "E": [(30, 370), (370, 15)]}


def plot_clarke_grid(ax: plt.Axes, reference: np.ndarray, prediction: np.ndarray, title: str) -> pd.Series:
    """Draw the Clarke error grid with the points on ``ax``; return the share of points in each zone."""
    zones = clarke_zones(reference, prediction)
    share = pd.Series(zones).value_counts(normalize=True).reindex(list(CLARKE_ZONES), fill_value=0.0)
    ax.scatter(reference, prediction, s=3, alpha=0.25, color=PALETTE[0], rasterized=True, label="forecasts")
    ax.plot([0, 400], [0, 400], color="0.5", linestyle=":", linewidth=1)
    for xs, ys in _CLARKE_LINES:
        ax.plot(xs, ys, color="black", linewidth=1)
    for zone, positions in _CLARKE_LABELS.items():
        for x, y in positions:
            ax.text(x, y, zone, fontsize=12, fontweight="bold", ha="center", va="center")
    ax.set(xlim=(0, 400), ylim=(0, 400), aspect="equal", title=title,
           xlabel="measured glucose (mg/dL)", ylabel="forecast glucose (mg/dL)")
    return share

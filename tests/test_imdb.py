"""load_imdb: download, cache, local archive, Kaggle CSV and every bad input we can think of."""

import gzip
import hashlib
import io
import tarfile
import time
from pathlib import Path

import pandas as pd
import pytest

import helpers

# Two reviews per split and class, in the official layout, deliberately listed out of order.
REVIEWS = {
    "aclImdb/train/pos/10_9.txt": "A wonderful film.<br /><br />See it.",
    "aclImdb/train/pos/2_8.txt": "Great acting, great story.",
    "aclImdb/train/neg/5_1.txt": "Dull and far too long.",
    "aclImdb/train/neg/1_3.txt": "I want those two hours back.",
    "aclImdb/test/pos/0_10.txt": "A masterpiece — café scenes and all.",
    "aclImdb/test/pos/7_7.txt": "Good fun.",
    "aclImdb/test/neg/3_2.txt": "Awful.",
    "aclImdb/test/neg/4_4.txt": "Not for me.",
}
EXTRAS = {"aclImdb/README": "Large Movie Review Dataset v1.0", "aclImdb/imdb.vocab": "the\nand\n"}


def make_archive(path: Path, members: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "aclImdb_v1.tar.gz", {**EXTRAS, **REVIEWS})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def cache_of(data_dir: Path) -> Path:
    return data_dir / "imdb" / "imdb.parquet"


def assert_small_imdb(train: pd.DataFrame, test: pd.DataFrame) -> None:
    assert list(train.columns) == ["text", "label"]
    assert train["text"].tolist() == [
        "Great acting, great story.",
        "A wonderful film.<br /><br />See it.",
        "I want those two hours back.",
        "Dull and far too long.",
    ]
    assert train["label"].tolist() == [1, 1, 0, 0]
    assert test["text"].tolist() == [
        "A masterpiece — café scenes and all.",
        "Good fun.",
        "Awful.",
        "Not for me.",
    ]
    assert test["label"].tolist() == [1, 1, 0, 0]


# ---------------------------------------------------------------- download path


def test_download_verifies_checksum_parses_and_caches(archive, data_dir):
    train, test = helpers.load_imdb(
        data_dir=data_dir, origin=archive.as_uri(), sha256=sha256_of(archive)
    )
    assert_small_imdb(train, test)
    assert (data_dir / "downloads" / helpers.IMDB_ARCHIVE_NAME).exists()
    assert cache_of(data_dir).exists()


def test_download_with_wrong_checksum_is_refused_and_deleted(archive, data_dir):
    with pytest.raises(helpers.BadDataSet, match="expected sha256"):
        helpers.load_imdb(data_dir=data_dir, origin=archive.as_uri(), sha256="0" * 64)
    assert not (data_dir / "downloads" / helpers.IMDB_ARCHIVE_NAME).exists()
    assert not cache_of(data_dir).exists()


def test_no_cache_and_no_network_gives_one_clear_message(tmp_path, data_dir):
    unreachable = (tmp_path / "nowhere" / "aclImdb_v1.tar.gz").as_uri()
    with pytest.raises(helpers.DataSetUnavailable) as caught:
        helpers.load_imdb(data_dir=data_dir, origin=unreachable)
    message = str(caught.value)
    assert "ai.stanford.edu/~amaas/data/sentiment" in message
    assert str(data_dir / "downloads" / helpers.IMDB_ARCHIVE_NAME) in message
    assert "IMDB Dataset.csv" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_archive_placed_in_downloads_is_used_without_network(archive, data_dir):
    downloads = data_dir / "downloads"
    downloads.mkdir(parents=True)
    (downloads / helpers.IMDB_ARCHIVE_NAME).write_bytes(archive.read_bytes())
    train, test = helpers.load_imdb(
        data_dir=data_dir, origin="file:///nowhere/at/all.tar.gz", sha256=sha256_of(archive)
    )
    assert_small_imdb(train, test)


# ------------------------------------------------------------------- cache path


def test_cache_is_read_without_the_archive(archive, data_dir):
    helpers.load_imdb(archive, data_dir=data_dir)
    archive.unlink()
    train, test = helpers.load_imdb(data_dir=data_dir, origin="file:///nowhere.tar.gz")
    assert_small_imdb(train, test)


def test_cached_call_is_fast(archive, data_dir):
    helpers.load_imdb(archive, data_dir=data_dir)
    start = time.perf_counter()
    helpers.load_imdb(data_dir=data_dir)
    assert time.perf_counter() - start < 3


def test_cache_write_leaves_no_temporary_files(archive, data_dir):
    helpers.load_imdb(archive, data_dir=data_dir)
    assert sorted(p.name for p in cache_of(data_dir).parent.iterdir()) == ["imdb.parquet"]


# ---------------------------------------------------------- local archive path


def test_local_archive_in_official_layout(archive, data_dir):
    assert_small_imdb(*helpers.load_imdb(archive, data_dir=data_dir))


def test_local_archive_refreshes_the_cache(archive, tmp_path, data_dir):
    other = dict(REVIEWS, **{"aclImdb/test/neg/3_2.txt": "Changed."})
    helpers.load_imdb(make_archive(tmp_path / "other.tar.gz", other), data_dir=data_dir)
    helpers.load_imdb(archive, data_dir=data_dir)
    _, test = helpers.load_imdb(data_dir=data_dir)
    assert "Awful." in test["text"].tolist()


def test_archive_without_a_test_split_is_refused(tmp_path, data_dir):
    train_only = {k: v for k, v in REVIEWS.items() if "/train/" in k}
    with pytest.raises(helpers.BadDataSet, match="no test reviews"):
        helpers.load_imdb(make_archive(tmp_path / "a.tar.gz", train_only), data_dir=data_dir)


def test_truncated_archive_is_refused_and_leaves_no_cache(archive, tmp_path, data_dir):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(helpers.BadDataSet, match="truncated or corrupt"):
        helpers.load_imdb(truncated, data_dir=data_dir)
    assert not cache_of(data_dir).parent.exists() or not any(cache_of(data_dir).parent.iterdir())


def test_garbage_archive_is_refused(tmp_path, data_dir):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(gzip.compress(b"this is not a tar file" * 100))
    with pytest.raises(helpers.BadDataSet, match="not a readable IMDb archive"):
        helpers.load_imdb(garbage, data_dir=data_dir)


@pytest.mark.parametrize("name", ["aclImdb/../../evil.txt", "/etc/evil.txt", "aclImdb/train/pos/../../../x_1.txt"])
def test_archive_entry_escaping_the_folder_is_refused(tmp_path, data_dir, name):
    hostile = make_archive(tmp_path / "hostile.tar.gz", {**REVIEWS, name: "pwned"})
    with pytest.raises(helpers.BadDataSet, match="leaves the archive's folder"):
        helpers.load_imdb(hostile, data_dir=data_dir)
    assert not cache_of(data_dir).exists()
    assert not (tmp_path / "evil.txt").exists()


def test_missing_file_says_what_to_pass(tmp_path, data_dir):
    with pytest.raises(FileNotFoundError, match="No IMDb file at"):
        helpers.load_imdb(tmp_path / "absent.tar.gz", data_dir=data_dir)


# -------------------------------------------------------------------- CSV path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_official_split_matches_the_archive(archive, tmp_path, data_dir):
    rows = ["review,sentiment,split,id,rating"]
    for name, text in REVIEWS.items():
        _, split, polarity, file_name = name.split("/")
        review_id, rating = file_name.removesuffix(".txt").split("_")
        sentiment = "positive" if polarity == "pos" else "negative"
        rows.append(f'"{text}",{sentiment},{split},{review_id},{rating}')
    csv = write_csv(tmp_path / "reviews.csv", "\n".join(rows) + "\n")
    from_csv = helpers.load_imdb(csv, data_dir=data_dir)
    from_archive = helpers.load_imdb(archive, data_dir=data_dir)
    for a, b in zip(from_csv, from_archive):
        pd.testing.assert_frame_equal(a, b)


def test_kaggle_csv_is_split_in_half_per_class_with_a_warning(tmp_path, data_dir):
    rows = ["review,sentiment"] + [
        f"review {i},{'positive' if i % 2 else 'negative'}" for i in range(40)
    ]
    csv = write_csv(tmp_path / "IMDB Dataset.csv", "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="not the official"):
        train, test = helpers.load_imdb(csv, data_dir=data_dir)
    assert len(train) == len(test) == 20
    assert train["label"].sum() == test["label"].sum() == 10
    assert set(train["text"]).isdisjoint(test["text"])
    assert not cache_of(data_dir).exists()


def test_kaggle_csv_split_is_deterministic(tmp_path, data_dir):
    rows = ["review,sentiment"] + [f"r{i},{'positive' if i % 3 else 'negative'}" for i in range(30)]
    csv = write_csv(tmp_path / "IMDB Dataset.csv", "\n".join(rows) + "\n")
    with pytest.warns(UserWarning):
        first = helpers.load_imdb(csv, data_dir=data_dir)
    with pytest.warns(UserWarning):
        second = helpers.load_imdb(csv, data_dir=data_dir)
    pd.testing.assert_frame_equal(first[0], second[0])


def test_gzipped_csv_is_read(tmp_path, data_dir):
    path = tmp_path / "reviews.csv.gz"
    path.write_bytes(gzip.compress(b"review,sentiment,split\nnice,positive,train\nbad,negative,test\n"))
    train, test = helpers.load_imdb(path, data_dir=data_dir)
    assert train.to_dict("list") == {"text": ["nice"], "label": [1]}
    assert test.to_dict("list") == {"text": ["bad"], "label": [0]}


def test_sentiment_labels_are_case_and_space_insensitive(tmp_path, data_dir):
    csv = write_csv(tmp_path / "r.csv", "review,sentiment,split\na, Positive ,train\nb,NEGATIVE,test\n")
    train, test = helpers.load_imdb(csv, data_dir=data_dir)
    assert train["label"].tolist() == [1] and test["label"].tolist() == [0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("review,sentiment\n", "no reviews"),
        ("text,label\ngreat,1\n", r"lacks the column\(s\) \['review', 'sentiment'\]"),
        ("review,sentiment\ngreat,positive\nmeh,neutral\n", r"sentiment values \['neutral'\]"),
        ("review,sentiment,split\ngreat,positive,valid\n", r"split values \['valid'\]"),
    ],
    ids=["empty", "header-only", "wrong-columns", "unknown-label", "unknown-split"],
)
def test_bad_csv_is_refused_clearly(tmp_path, data_dir, content, message):
    csv = write_csv(tmp_path / "bad.csv", content)
    with pytest.raises(helpers.BadDataSet, match=message):
        helpers.load_imdb(csv, data_dir=data_dir)

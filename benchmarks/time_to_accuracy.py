"""How soon does each setup reach a good IMDb classifier on this machine? Validation accuracy against training seconds.

Every configuration trains on the cookbook's split (22,500 training reviews; 2,500 validation reviews drawn
from the official training set; the official 25,000 test reviews), tokenized once by the cookbook's
tokenizer before any timing starts, each in its own process (Keras picks its backend once per process,
and peak memory is per process). The neural configurations are evaluated on the validation set four
times per epoch; the clock counts training only, not those evaluations. Every run keeps the weights of
its best validation evaluation and reads the test set once, with those weights. The configurations run
interleaved, repeat by repeat (repeat r uses seed r), so that a slow spell of the machine falls on
every configuration alike.

    python benchmarks/time_to_accuracy.py            # the full run, about 70 minutes on 2 cores; writes benchmarks/results/
    python benchmarks/time_to_accuracy.py --smoke    # tiny sizes, a minute or two: checks every path runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from common import (BOOK_VOCAB, REPO_ROOT, book_data_loader, book_pytorch_model, book_training_step, cpu_name, imdb_splits_or_exit,
                    machine, peak_memory_mb, rotated, run_worker_process)

RESULTS = REPO_ROOT / "benchmarks" / "results"
THRESHOLDS = (0.85, 0.88)
EVALS_PER_EPOCH = 4
REPEATS = 3
RECOMMENDED = "recipe08-pooled-gru-tensorflow"  # the cookbook's recommended CPU setup (recipe 08's final model)
BOOK = "book-pytorch"

# Each configuration: how it tokenizes (vocabulary, length, which end is kept, which side is padded) and
# how it trains. "epochs" is its budget: what its source trains for (the book's: see the README).
CONFIGS = {
    BOOK: {
        "what": "the book's recipe: PyTorch, Embedding(30,522, 32) -> 3 x GRU(32) -> last position, first 256 tokens "
                "right-padded, batch 64, Adam 1e-3, its loop; our tokenizer (the book: BERT word pieces)",
        "vocab": BOOK_VOCAB, "length": 256, "keep": "first", "padding": "post", "epochs": 6, "backend": "torch",
    },
    "keras-io-bilstm": {
        "what": "keras.io's bidirectional LSTM example: Embedding(20,000, 128) -> 2 x BiLSTM(64), pad_sequences "
                "to 200 tokens (its defaults: the last 200, padded in front), batch 32, Adam 1e-3, 2 epochs",
        "vocab": 20_000, "length": 200, "keep": "last", "padding": "pre", "epochs": 2, "backend": "tensorflow",
    },
    "recipe03-gru-tensorflow": {
        "what": "recipe 03's final GRU: Embedding(10,000, 64, masked) -> GRU(64), dropouts, last 500 tokens in "
                "bucketed batches of 128, Adam 2e-3 with cosine decay over 3 epochs; TensorFlow backend",
        "vocab": 10_000, "length": 500, "keep": "last", "padding": "post", "epochs": 3, "backend": "tensorflow",
    },
    "recipe03-gru-jax": {
        "what": "the same on the JAX backend",
        "vocab": 10_000, "length": 500, "keep": "last", "padding": "post", "epochs": 3, "backend": "jax",
    },
    RECOMMENDED: {
        "what": "recipe 08's final model: Embedding(10,000, 64, masked) -> GRU(64) -> masked max+mean pooling, "
                "first 800 tokens in bucketed batches of 128, Adam 3e-3 with cosine decay over 3 epochs; TensorFlow",
        "vocab": 10_000, "length": 800, "keep": "first", "padding": "post", "epochs": 3, "backend": "tensorflow",
    },
    "tfidf-bigrams": {
        "what": "recipe 03's TF-IDF bag of words and bigrams + logistic regression (C = 256); "
                "its time includes counting the n-grams of the training reviews",
        "backend": "sklearn",
    },
}
RECIPE_03_TFIDF_C = 256  # chosen on validation in recipe 03
SMOKE_REVIEWS = {"train": 512, "validation": 128, "test": 128}
SMOKE_LENGTH = 24
SMOKE_VOCAB = 200


# ------------------------------------------------------------------------ data (once, in the driver)


def load_splits(smoke: bool) -> tuple[dict, dict]:
    """The cookbook's split: texts and 0/1 labels of ``train``, ``validation`` and ``test`` (a few hundred reviews with ``smoke``)."""
    splits = imdb_splits_or_exit()
    if smoke:
        splits = {name: frame.iloc[:SMOKE_REVIEWS[name]] for name, frame in splits.items()}
    texts = {name: frame["text"].to_numpy() for name, frame in splits.items()}
    labels = {name: frame["label"].to_numpy().astype("float32") for name, frame in splits.items()}
    return texts, labels


def vocabulary_size(config: str, smoke: bool) -> int:
    return SMOKE_VOCAB if smoke else CONFIGS[config]["vocab"]


def prepare_data(folder: Path, smoke: bool, configs: list[str]) -> dict[str, float]:
    """Tokenize every split once per vocabulary and write one .npz per configuration; returns tokenizing seconds."""
    import helpers
    import keras
    import numpy as np

    texts, labels = load_splits(smoke)
    ragged, tokenize_seconds = {}, {}
    for config in configs:
        spec = CONFIGS[config]
        if "vocab" not in spec:
            continue
        vocab = vocabulary_size(config, smoke)
        if vocab not in ragged:
            started = time.perf_counter()
            vectorizer = helpers.imdb_vectorizer(texts["train"], vocab)
            ragged[vocab] = {name: helpers.token_ids(t, vectorizer) for name, t in texts.items()}
            tokenize_seconds[str(vocab)] = time.perf_counter() - started
        length = SMOKE_LENGTH if smoke else spec["length"]
        arrays = {}
        for name, ids in ragged[vocab].items():
            # keras.utils.pad_sequences is what the keras.io example calls; with its defaults it keeps the last
            # tokens and pads in front. The others keep one end and pad after it, as helpers.truncate does.
            arrays[f"{name}_ids"] = (keras.utils.pad_sequences(ids.to_list(), maxlen=length) if spec["padding"] == "pre"
                                     else helpers.truncate(ids, length, keep=spec["keep"]))
            arrays[f"{name}_label"] = labels[name]
        np.savez(folder / f"{config}.npz", **arrays)
    return tokenize_seconds


# ------------------------------------------------------------------------ workers (one process each)


class Curve:
    """Training seconds (evaluations excluded) and validation accuracy at every evaluation; keeps the best weights."""

    def __init__(self):
        self.points: list[dict] = []
        self.training_seconds = 0.0
        self.best_weights = None

    def add(self, step: int, epoch: float, val_accuracy: float, weights_getter) -> None:
        if not self.points or val_accuracy > max(p["val_accuracy"] for p in self.points):
            self.best_weights = weights_getter()
        self.points.append({"step": step, "epoch": epoch, "train_seconds": self.training_seconds, "val_accuracy": val_accuracy})


def train_book_pytorch(data: dict, seed: int, epochs: int, smoke: bool) -> tuple[Curve, float]:
    """The book's loop, as printed (per-batch accuracy and loss.item() included), with evaluations four times per epoch."""
    import copy

    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = book_pytorch_model(vocab=vocabulary_size(BOOK, smoke))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.BCELoss()
    train_loader = book_data_loader(data["train_ids"], data["train_label"][:, None], batch_size=64, seed=seed)
    batches_per_epoch = len(train_loader)
    evaluate_every = max(1, batches_per_epoch // EVALS_PER_EPOCH)

    def accuracy_on(split: str) -> float:
        model.eval()
        with torch.no_grad():
            ids = torch.as_tensor(data[f"{split}_ids"]).long()
            predictions = torch.cat([model(ids[i:i + 512]) for i in range(0, len(ids), 512)])[:, 0].numpy()
        model.train()
        return float(((predictions > 0.5) == (data[f"{split}_label"] == 1)).mean())

    curve, step = Curve(), 0
    for epoch in range(epochs):
        model.train()
        tally = {}  # the book's per-batch accuracy and loss, kept for their cost
        started = time.perf_counter()
        for inputs, targets in train_loader:
            book_training_step(model, optimizer, criterion, inputs, targets, tally)
            step += 1
            if step % evaluate_every == 0 or step % batches_per_epoch == 0:
                curve.training_seconds += time.perf_counter() - started
                curve.add(step, step / batches_per_epoch, accuracy_on("validation"), lambda: copy.deepcopy(model.state_dict()))
                started = time.perf_counter()
    model.load_state_dict(curve.best_weights)
    return curve, accuracy_on("test")


def keras_model_and_batches(config: str, data: dict, seed: int, smoke: bool):
    """The configuration's model, its (repeating) training dataset, batches per epoch, validation and test datasets, learning rate."""
    import keras
    import tensorflow as tf

    import helpers

    vocab = vocabulary_size(config, smoke)
    keras.utils.set_random_seed(seed)  # before the pipeline: tf.data's shuffle order depends on the global seed too
    if config == "keras-io-bilstm":
        inputs = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab, 128)(inputs)
        x = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(x)
        x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))

        def batches(split, shuffle=False, batch_size=32):
            dataset = tf.data.Dataset.from_tensor_slices((data[f"{split}_ids"], data[f"{split}_label"]))
            if shuffle:  # model.fit on NumPy arrays, as the example calls it, reshuffles every epoch
                dataset = dataset.shuffle(len(data[f"{split}_label"]), seed=seed, reshuffle_each_iteration=True)
            return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

        train, learning_rate = batches("train", shuffle=True), 1e-3
        validation, test = batches("validation", batch_size=256), batches("test", batch_size=256)
    else:
        if config.startswith("recipe03"):
            model = helpers.build_classifier(f"recipe03_gru_seed_{seed}", seed=seed, vocab_size=vocab, **helpers.RECIPE_03_MODEL)
            learning_rate = 2e-3
        else:
            model = helpers.build_pooled_classifier(f"pooled_gru_seed_{seed}", seed=seed, vocab_size=vocab)
            learning_rate = 3e-3
        keras.utils.set_random_seed(seed)
        train = helpers.bucketed_dataset(data["train_ids"], data["train_label"], batch_size=128, shuffle=True, seed=seed)
        validation = helpers.bucketed_dataset(data["validation_ids"], data["validation_label"], batch_size=256)
        test = helpers.bucketed_dataset(data["test_ids"], data["test_label"], batch_size=256)
    return model, train, int(train.cardinality()), validation, test, learning_rate


def train_keras(config: str, data: dict, seed: int, epochs: int, smoke: bool) -> tuple[Curve, float]:
    """Fit in chunks of a quarter epoch (Keras "epochs" of steps_per_epoch steps); validation after each chunk."""
    import keras

    model, train, batches_per_epoch, validation, test, learning_rate = keras_model_and_batches(config, data, seed, smoke)
    chunk = max(1, batches_per_epoch // EVALS_PER_EPOCH)
    n_chunks = epochs * (batches_per_epoch // chunk)
    if config == "keras-io-bilstm":
        optimizer = keras.optimizers.Adam(learning_rate)  # the example's "adam": a constant 1e-3
    else:  # the recipes' cosine decay to zero over their whole run
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=n_chunks * chunk))
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    curve = Curve()

    class Clock(keras.callbacks.Callback):
        """Adds each chunk's training time (its start to the end of its last step) to the curve.

        JAX dispatches steps asynchronously: Keras can start the validation pass while the last training steps
        still run. Reading the weights back waits for them, so the clock stops when training has really ended.
        """

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_test_begin(self, logs=None):
            for variable in model.trainable_variables:
                keras.ops.convert_to_numpy(variable)
            curve.training_seconds += time.perf_counter() - self.started

        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * chunk
            curve.add(step, step / batches_per_epoch, float(logs["val_accuracy"]), model.get_weights)

    # shuffle=False: the tf.data pipeline shuffles (every pass over the repeated data is a fresh order).
    model.fit(train.repeat(), steps_per_epoch=chunk, epochs=n_chunks, validation_data=validation,
              verbose=0, shuffle=False, callbacks=[Clock()])
    model.set_weights(curve.best_weights)
    return curve, float(model.evaluate(test, verbose=0, return_dict=True)["accuracy"])


def train_tfidf(smoke: bool) -> tuple[Curve, float]:
    """Recipe 03's TF-IDF baseline: one point, at the seconds its fit took (counting the training reviews' n-grams included)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    import helpers

    texts, labels = load_splits(smoke)
    model = make_pipeline(helpers.review_ngrams(max_n=2, min_df=2), TfidfTransformer(sublinear_tf=True),
                          LogisticRegression(C=RECIPE_03_TFIDF_C, solver="liblinear", max_iter=1_000))
    curve = Curve()
    started = time.perf_counter()
    model.fit(texts["train"], labels["train"])
    curve.training_seconds = time.perf_counter() - started
    accuracy = {split: float(np.mean(model.predict(texts[split]) == labels[split])) for split in ("validation", "test")}
    curve.add(0, 1.0, accuracy["validation"], lambda: None)
    return curve, accuracy["test"]


def run_worker(config: str, folder: Path, seed: int, smoke: bool) -> dict:
    started = time.perf_counter()
    spec = CONFIGS[config]
    if spec["backend"] == "sklearn":
        curve, test_accuracy = train_tfidf(smoke)
    else:
        import numpy as np

        with np.load(folder / f"{config}.npz") as stored:
            data = dict(stored)
        epochs = 1 if smoke else spec["epochs"]
        train = train_book_pytorch if spec["backend"] == "torch" else lambda *a: train_keras(config, *a)
        curve, test_accuracy = train(data, seed, epochs, smoke)
    best = max(curve.points, key=lambda p: p["val_accuracy"])
    return {
        "config": config, "seed": seed, "curve": curve.points, "best_val_accuracy": best["val_accuracy"],
        "best_at_seconds": best["train_seconds"], "best_at_epoch": best["epoch"], "test_accuracy": test_accuracy,
        "seconds_to": {str(t): next((p["train_seconds"] for p in curve.points if p["val_accuracy"] >= t), None) for t in THRESHOLDS},
        "training_seconds": curve.training_seconds, "process_seconds": time.perf_counter() - started,
        "peak_memory_mb": peak_memory_mb(),
    }


# ------------------------------------------------------------------------ driver


def measure(config: str, folder: Path, seed: int, smoke: bool) -> dict:
    """Run one configuration in a fresh interpreter with its backend; return its JSON line."""
    backend = CONFIGS[config]["backend"]
    arguments = ["--worker", config, "--data", str(folder), "--seed", str(seed)] + (["--smoke"] if smoke else [])
    started = time.perf_counter()
    result = run_worker_process(__file__, arguments, backend if backend in ("tensorflow", "jax") else "tensorflow", f"{config} (seed {seed})")
    result["wall_seconds"] = time.perf_counter() - started  # the whole process: start-up, training, evaluations, test
    return result


def median_and_range(values: list) -> dict:
    import numpy as np

    if any(v is None for v in values):
        reached = [v for v in values if v is not None]
        return {"median": None, "min": min(reached, default=None), "max": max(reached, default=None), "reached": len(reached)}
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values)), "reached": len(values)}


def summarize(runs: list[dict]) -> dict:
    summary = {}
    for config in CONFIGS:
        mine = sorted((r for r in runs if r["config"] == config), key=lambda r: r["seed"])
        if not mine:
            continue
        summary[config] = {
            "repeats": len(mine),
            **{f"seconds_to_{t}": median_and_range([r["seconds_to"][str(t)] for r in mine]) for t in THRESHOLDS},
            **{key: median_and_range([r[key] for r in mine])
               for key in ("best_val_accuracy", "best_at_seconds", "test_accuracy", "training_seconds", "wall_seconds", "peak_memory_mb")},
        }
    book = {r["seed"]: r for r in runs if r["config"] == BOOK}
    recommended = {r["seed"]: r for r in runs if r["config"] == RECOMMENDED}
    ratios = [book[s]["best_at_seconds"] / recommended[s]["seconds_to"]["0.88"]
              for s in sorted(book.keys() & recommended.keys()) if recommended[s]["seconds_to"]["0.88"]]
    summary["bar"] = {
        "what": f"seconds for {BOOK} to reach its own best validation accuracy / seconds for {RECOMMENDED} to reach 0.88, per repeat",
        "ratios": ratios, "ratio": median_and_range(ratios) if ratios else None,
    }
    return summary


def seconds_cell(stats: dict, repeats: int) -> str:
    if stats["median"] is None:
        return "never" if not stats["reached"] else f"{stats['reached']} of {repeats} runs ({stats['min']:.0f}–{stats['max']:.0f})"
    return f"{stats['median']:.0f} ({stats['min']:.0f}–{stats['max']:.0f})"


def markdown_table(summary: dict) -> str:
    lines = [
        "| configuration | s to 0.85 val | s to 0.88 val | best val accuracy | s to best | test accuracy (best weights) | training s | process s | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for config in CONFIGS:
        if config not in summary:
            continue
        s, n = summary[config], summary[config]["repeats"]
        accuracy = lambda key: f"{s[key]['median']:.4f} ({s[key]['min']:.4f}–{s[key]['max']:.4f})"  # noqa: E731
        lines.append(
            f"| {config} | {seconds_cell(s['seconds_to_0.85'], n)} | {seconds_cell(s['seconds_to_0.88'], n)} | {accuracy('best_val_accuracy')} "
            f"| {seconds_cell(s['best_at_seconds'], n)} | {accuracy('test_accuracy')} | {seconds_cell(s['training_seconds'], n)} "
            f"| {seconds_cell(s['wall_seconds'], n)} | {s['peak_memory_mb']['median']:.0f} |"
        )
    return "\n".join(lines)


def median_curves(runs: list[dict]) -> dict:
    """Per configuration, per evaluation: the median training seconds and the median, min and max validation accuracy."""
    import numpy as np

    curves = {}
    for config in CONFIGS:
        mine = [r["curve"] for r in runs if r["config"] == config]
        if not mine:
            continue
        n = min(len(c) for c in mine)
        seconds = np.array([[p["train_seconds"] for p in c[:n]] for c in mine])
        accuracy = np.array([[p["val_accuracy"] for p in c[:n]] for c in mine])
        curves[config] = {"seconds": np.median(seconds, axis=0).tolist(), "median": np.median(accuracy, axis=0).tolist(),
                          "min": accuracy.min(axis=0).tolist(), "max": accuracy.max(axis=0).tolist()}
    return curves


def figure(curves: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(12, 5.5), layout="constrained")
    colors = ["#d62728", "#9467bd", "#1f77b4", "#17becf", "#2ca02c", "#ff7f0e"]
    for (config, curve), color in zip(curves.items(), colors):
        if len(curve["seconds"]) == 1:  # the baseline: one fit, one point
            ax.errorbar(curve["seconds"], curve["median"], yerr=[[curve["median"][0] - curve["min"][0]], [curve["max"][0] - curve["median"][0]]],
                        fmt="D", color=color, markersize=8, capsize=4, label=config)
            continue
        ax.plot(curve["seconds"], curve["median"], marker="o", markersize=3, color=color, label=config)
        ax.fill_between(curve["seconds"], curve["min"], curve["max"], color=color, alpha=0.2, linewidth=0)
    for threshold in THRESHOLDS:
        ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"{threshold:.2f}", (1.0, threshold), xycoords=("axes fraction", "data"), xytext=(3, -3),
                    textcoords="offset points", color="grey", fontsize=9)
    # A log scale: the setups differ by more than ten times in how long they need, and their first minute matters most.
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([5, 10, 20, 50, 100, 200, 500, 1000, 2000]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda seconds, _: f"{seconds:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set(xlabel="training seconds, log scale (validation passes not counted)", ylabel="validation accuracy", title=title, ylim=(0.48, 0.93))
    ax.legend(loc="upper left", bbox_to_anchor=(1.06, 1), fontsize=9, title="median of repeats,\nrange shaded")
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one epoch: checks that every configuration runs")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--only", choices=list(CONFIGS), help="re-run this configuration and replace its runs in the results at --out")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(run_worker(args.worker, args.data, args.seed, args.smoke)))
        return

    started = time.perf_counter()
    configs = [args.only] if args.only else args.configs
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        tokenize_seconds = prepare_data(folder, args.smoke, configs)
        runs = run_interleaved(configs, args.repeats, folder, args.smoke)
    import keras
    import tensorflow as tf

    if args.only:
        # Replace one configuration's runs in the committed results; every run is seeded by its repeat alone.
        report = json.loads((args.out / "time_to_accuracy.json").read_text())
        report["runs"] = [runs.pop(0) if run["config"] == args.only else run for run in report["runs"]]
        report.setdefault("reruns", {})[args.only] = {"date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - started}
    else:
        report = {
            "machine": machine(), "processor": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "date": time.strftime("%Y-%m-%d"), "smoke": args.smoke,
            "evaluations_per_epoch": EVALS_PER_EPOCH, "thresholds": list(THRESHOLDS), "configs": {c: CONFIGS[c]["what"] for c in configs},
            "tokenize_seconds": tokenize_seconds, "benchmark_seconds": time.perf_counter() - started, "runs": runs,
        }
    report["summary"], report["curves"] = summarize(report["runs"]), median_curves(report["runs"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "time_to_accuracy.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "time_to_accuracy.md").write_text(markdown_table(report["summary"]) + "\n")
    figure(report["curves"], args.out / "time_to_accuracy.png", f"Validation accuracy against training time on {report['machine']}")
    print()
    print(markdown_table(report["summary"]))
    if report["summary"]["bar"]["ratio"]:
        bar, ratio = report["summary"]["bar"], report["summary"]["bar"]["ratio"]
        print(f"\n{bar['what']}: median {ratio['median']:.1f}x (range {ratio['min']:.1f}–{ratio['max']:.1f}x)")


def run_interleaved(configs: list[str], repeats: int, folder: Path, smoke: bool) -> list[dict]:
    """Every configuration once per repeat (seed = repeat), the order rotated each repeat so none always runs first."""
    runs = []
    for repeat in range(1, repeats + 1):
        for config in rotated(configs, repeat):
            runs.append(measure(config, folder, seed=repeat, smoke=smoke))
            r = runs[-1]
            print(f"repeat {repeat} {config:<32} best val {r['best_val_accuracy']:.4f} after {r['best_at_seconds']:.0f} s, "
                  f"test {r['test_accuracy']:.4f}, 0.88 at {r['seconds_to']['0.88']}", flush=True)
    return runs

if __name__ == "__main__":
    main()

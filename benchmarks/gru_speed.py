"""How fast does a training step of a GRU classifier run, under which framework and settings?

Two models, on real IMDb training reviews (the cookbook's split and tokenizer):

- the book's model (Regularization Cookbook, chapter 8): Embedding(30,522, 32) -> 3 stacked GRU(32)
  -> Dense(1, sigmoid) on the last position, the first 256 tokens of each review (right-padded, no
  mask), batch 64, Adam(1e-3). The book fed it 64 or 256 BERT word pieces from a 30,522-piece
  vocabulary; here the tokens are the cookbook's words, with a vocabulary of the same size. It runs
  as the book's plain PyTorch loop (with and without flushing denormals), on Keras with TensorFlow
  (default, and fixed shapes with XLA) and on Keras with JAX;
- recipe 03's final model: Embedding(10,000, 64, mask_zero=True) -> GRU(64) with dropouts, the last
  500 tokens in bucketed batches of 128, Adam, on Keras with TensorFlow and with JAX. Its mask takes
  the JAX backend off its fast GRU path, which this measures.

Each run times a block of training steps, not a `fit` call: from the start of the first timed step
to the end of the last one, after warm-up steps that absorb tracing and compilation. A callback
notes the first step's start and the end of the epoch, which Keras reaches only once the last step's
loss is computed (JAX dispatches steps asynchronously, so a per-step clock would force it to wait
after every step; the recipes do not). `fit` itself is timed too, and what it spends after the last
step (shutting its input pipeline down) is reported apart, as the "fit exit" column. Every configuration runs in its own process (Keras picks its backend once per
process; peak memory is per process), repeated (3 times by default), the configurations interleaved
so that a slow spell of the machine falls on all of them; the report gives medians and ranges.

    python benchmarks/gru_speed.py                 # the full run, about 10 minutes on 2 cores; writes benchmarks/results/
    python benchmarks/gru_speed.py --smoke         # tiny sizes, about a minute: checks every path runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from common import (BOOK_VOCAB, book_data_loader, book_pytorch_model, book_training_step, cpu_name, imdb_splits_or_exit, machine,
                    peak_memory_mb, rotated, run_worker_process)

REFERENCE = "pytorch"
BOOK_MODEL = "the book's 3 x GRU(32), first 256 tokens, batch 64"
RECIPE_03_MODEL = "recipe 03's masked GRU(64), last 500 tokens, bucketed batches of 128"
CONFIGS = {
    "pytorch": (BOOK_MODEL, "the book's plain PyTorch loop, torch.nn.GRU(num_layers=3)"),
    "pytorch-flush-denormal": (BOOK_MODEL, "the same loop after torch.set_flush_denormal(True)"),
    "keras-tensorflow": (BOOK_MODEL, "Keras 3 on TensorFlow, defaults (jit_compile='auto': no XLA on a CPU)"),
    "keras-tensorflow-xla": (BOOK_MODEL, "Keras 3 on TensorFlow, fixed batch shapes, use_cudnn=False and jit_compile=True"),
    "keras-jax": (BOOK_MODEL, "Keras 3 on JAX (always compiled with XLA)"),
    "recipe03-tensorflow": (RECIPE_03_MODEL, "Keras 3 on TensorFlow, defaults"),
    "recipe03-jax": (RECIPE_03_MODEL, "Keras 3 on JAX: the mask leaves its fast GRU path for the generic loop"),
}
TRAIN_REVIEWS = 22_500  # an epoch: the cookbook's training split


@dataclass(frozen=True)
class Sizes:
    book_vocab: int = BOOK_VOCAB
    book_length: int = 256
    book_batch: int = 64
    recipe03_vocab: int = 10_000
    recipe03_length: int = 500
    recipe03_batch: int = 128
    warmup_steps: int = 5
    timed_steps: int = 60
    train_reviews: int = TRAIN_REVIEWS


SMOKE = Sizes(book_vocab=100, book_length=12, book_batch=8, recipe03_vocab=100, recipe03_length=20, recipe03_batch=8,
              warmup_steps=1, timed_steps=3, train_reviews=200)


def prepare_imdb(sizes: Sizes, folder: Path) -> None:
    """Write both models' token ids and labels (the cookbook's training split) to ``folder``."""
    import helpers
    import numpy as np

    train = imdb_splits_or_exit()["train"].iloc[: sizes.train_reviews]
    texts, labels = train["text"].to_numpy(), train["label"].to_numpy().astype(np.float32)
    for name, vocab, length, keep in (("book", sizes.book_vocab, sizes.book_length, "first"),
                                      ("recipe03", sizes.recipe03_vocab, sizes.recipe03_length, "last")):
        ids = helpers.truncate(helpers.token_ids(texts, helpers.imdb_vectorizer(texts, vocab)), length, keep=keep)
        np.savez(folder / f"{name}.npz", tokens=ids, labels=labels)


def load_arrays(folder: Path, name: str):
    import numpy as np

    with np.load(folder / f"{name}.npz") as arrays:
        return arrays["tokens"], arrays["labels"]


def step_report(first_step_start: float, last_step_end: float, timed_steps: int, steps_per_epoch: int) -> dict:
    """Seconds per step over the timed block, and an epoch's seconds at that rate."""
    step_seconds = (last_step_end - first_step_start) / timed_steps
    return {"step_seconds": step_seconds, "timed_steps": timed_steps, "steps_per_epoch": steps_per_epoch,
            "seconds_per_epoch": step_seconds * steps_per_epoch}


# ---------------------------------------------------------------- PyTorch worker


def time_pytorch(sizes: Sizes, folder: Path, flush_denormal: bool) -> dict:
    """The book's training loop: its Dataset, a shuffling DataLoader and its per-batch bookkeeping, step by step."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    if flush_denormal:
        # Tiny gradients become denormal floats, which x86 CPUs process very slowly.
        torch.set_flush_denormal(True)
    model = book_pytorch_model(vocab=sizes.book_vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.BCELoss()
    tokens, labels = load_arrays(folder, "book")
    loader = book_data_loader(tokens, labels[:, None], batch_size=sizes.book_batch, seed=0)
    model.train()
    tally = {}
    started = time.perf_counter()
    for step, (inputs, targets) in enumerate(loader):
        if step == sizes.warmup_steps:
            first_timed = time.perf_counter()
        book_training_step(model, optimizer, criterion, inputs, targets, tally)
        if step + 1 == sizes.warmup_steps + sizes.timed_steps:
            break
    last_end = time.perf_counter()
    return {**step_report(first_timed, last_end, sizes.timed_steps, math.ceil(sizes.train_reviews / sizes.book_batch)),
            "warmup_seconds": first_timed - started}


# ------------------------------------------------------------------ Keras worker


def book_keras_model(sizes: Sizes, use_cudnn):
    import keras

    return keras.Sequential([
        keras.Input(shape=(sizes.book_length,), dtype="int32"),
        keras.layers.Embedding(sizes.book_vocab, 32, name="embedding"),
        keras.layers.GRU(32, return_sequences=True, use_cudnn=use_cudnn, name="gru_1"),
        keras.layers.GRU(32, return_sequences=True, use_cudnn=use_cudnn, name="gru_2"),
        keras.layers.GRU(32, use_cudnn=use_cudnn, name="gru_3"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ], name="book_gru")


def book_batches(sizes: Sizes, folder: Path, fixed_shapes: bool):
    """The book model's batches: reshuffled, batch 64, from the stored token ids (every batch (64, 256) with fixed shapes)."""
    import tensorflow as tf

    tokens, labels = load_arrays(folder, "book")
    dataset = tf.data.Dataset.from_tensor_slices((tokens, labels[:, None])).shuffle(len(labels), seed=0)
    return dataset.batch(sizes.book_batch, drop_remainder=fixed_shapes).prefetch(tf.data.AUTOTUNE), math.ceil(len(labels) / sizes.book_batch)


def recipe03_batches(sizes: Sizes, folder: Path):
    """Recipe 03's bucketed, shuffled batches; and one batch of every shape among them, for the warm-up."""
    import tensorflow as tf

    import helpers

    tokens, labels = load_arrays(folder, "recipe03")
    batches = helpers.bucketed_dataset(tokens, labels, batch_size=sizes.recipe03_batch, shuffle=True, seed=0)
    timed = list(batches.take(sizes.timed_steps).as_numpy_iterator())
    one_per_shape = list({x.shape: (x, y) for x, y in timed}.values())  # JAX compiles once per shape: warm every one up

    def as_dataset(pairs):
        return tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=(
            tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.float32)))

    return as_dataset(one_per_shape), as_dataset(timed), int(batches.cardinality())


def time_keras(config: str, sizes: Sizes, folder: Path) -> dict:
    import keras

    import helpers

    keras.utils.set_random_seed(0)
    xla = config == "keras-tensorflow-xla"
    if config.startswith("recipe03"):
        model = helpers.build_classifier("recipe03_gru", vocab_size=sizes.recipe03_vocab, **helpers.RECIPE_03_MODEL)
        warmup, timed, steps_per_epoch = recipe03_batches(sizes, folder)
    else:
        # Where a GPU is visible, a cuDNN-eligible GRU marks itself as not XLA-compilable and Keras
        # drops jit_compile=True; use_cudnn=False keeps the generic loop, which XLA compiles, everywhere.
        model = book_keras_model(sizes, use_cudnn=False if xla else "auto")
        batches, steps_per_epoch = book_batches(sizes, folder, fixed_shapes=xla)
        warmup, timed = batches.take(sizes.warmup_steps), batches.skip(sizes.warmup_steps).take(sizes.timed_steps)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"],  # the book's loop counts accuracy every batch too
                  jit_compile=True if xla else "auto")
    if xla and not model.jit_compile:
        raise RuntimeError("Keras turned jit_compile off: this configuration would not measure XLA")

    class BlockClock(keras.callbacks.Callback):
        """Notes when the first step starts and when the epoch ends (after the last step's loss is computed).

        No on_train_batch_end: defining one makes Keras wait for every step, which JAX would otherwise not do.
        """

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self.first_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.last_end = time.perf_counter()

    started = time.perf_counter()
    model.fit(warmup, epochs=1, verbose=0, shuffle=False)
    warmup_seconds = time.perf_counter() - started
    clock = BlockClock()
    fit_started = time.perf_counter()
    model.fit(timed, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    fit_returned = time.perf_counter()
    return {**step_report(clock.first_start, clock.last_end, sizes.timed_steps, steps_per_epoch), "warmup_seconds": warmup_seconds,
            "fit_start_seconds": clock.first_start - fit_started, "fit_exit_seconds": fit_returned - clock.last_end}


def run_worker(config: str, sizes: Sizes, folder: Path) -> dict:
    if config.startswith("pytorch"):
        result = time_pytorch(sizes, folder, flush_denormal=config == "pytorch-flush-denormal")
    else:
        result = time_keras(config, sizes, folder)
    return {"config": config, **result, "peak_memory_mb": peak_memory_mb()}


# ------------------------------------------------------------------------ driver


def measure(config: str, sizes: Sizes, folder: Path) -> dict:
    """Run one configuration in a fresh interpreter with its backend and return its measurements."""
    arguments = ["--worker", config, "--sizes", json.dumps(asdict(sizes)), "--data", str(folder)]
    return run_worker_process(__file__, arguments, "jax" if config.endswith("jax") else "tensorflow", config)


def summarize(runs: list[dict], configs: list[str]) -> list[dict]:
    """Per configuration: median and range over repeats; the book model's speed-up over PyTorch, repeat by repeat."""
    import numpy as np

    by_repeat = {}
    for run in runs:
        by_repeat.setdefault(run["repeat"], {})[run["config"]] = run
    rows = []
    for config in configs:
        mine = [r for r in runs if r["config"] == config]
        row = {"config": config, "model": CONFIGS[config][0], "what": CONFIGS[config][1], "repeats": len(mine)}
        for key in ("seconds_per_epoch", "step_seconds", "warmup_seconds", "fit_exit_seconds", "peak_memory_mb"):
            values = [r[key] for r in mine if key in r]
            if values:
                row[key] = {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}
        if CONFIGS[config][0] == BOOK_MODEL:
            speedups = [runs_[REFERENCE]["seconds_per_epoch"] / runs_[config]["seconds_per_epoch"]
                        for runs_ in by_repeat.values() if REFERENCE in runs_ and config in runs_]
            row["speedup_vs_pytorch"] = {"median": float(np.median(speedups)), "min": float(min(speedups)), "max": float(max(speedups))}
        rows.append(row)
    return rows


def cell(stats: dict | None, digits: int = 1, suffix: str = "") -> str:
    if stats is None:
        return "—"
    return f"{stats['median']:.{digits}f}{suffix} ({stats['min']:.{digits}f}–{stats['max']:.{digits}f})"


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| model | configuration | s/epoch (22,500 reviews) | ms/step | speed-up vs plain PyTorch | warm-up s | fit exit s | peak memory (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        step_ms = {key: 1000 * value for key, value in r["step_seconds"].items()}
        lines.append(
            f"| {r['model']} | {r['config']} | {cell(r['seconds_per_epoch'])} | {cell(step_ms, 0)} | {cell(r.get('speedup_vs_pytorch'), 2, '×')} "
            f"| {cell(r['warmup_seconds'])} | {cell(r.get('fit_exit_seconds'))} | {r['peak_memory_mb']['median']:.0f} |"
        )
    return "\n".join(lines)


def bar_chart(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['config']}" for r in rows]
    medians = [r["seconds_per_epoch"]["median"] for r in rows]
    low = [r["seconds_per_epoch"]["median"] - r["seconds_per_epoch"]["min"] for r in rows]
    high = [r["seconds_per_epoch"]["max"] - r["seconds_per_epoch"]["median"] for r in rows]
    colors = ["#1f77b4" if r["model"] == BOOK_MODEL else "#2ca02c" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.8), layout="constrained")
    bars = ax.barh(names, medians, xerr=[low, high], color=colors, capsize=3)
    labels = [cell(r["speedup_vs_pytorch"], 2, "×") + " vs PyTorch" if "speedup_vs_pytorch" in r else "recipe 03's model" for r in rows]
    ax.bar_label(bars, labels, padding=6)
    ax.invert_yaxis()
    ax.set(xlabel="seconds per epoch of 22,500 reviews (median of repeats, range as error bars; lower is faster)",
           ylabel="configuration", title=title)
    ax.set_xlim(right=max(r["seconds_per_epoch"]["max"] for r in rows) * 1.6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#1f77b4", "#2ca02c")]
    ax.legend(handles, [BOOK_MODEL, RECIPE_03_MODEL], loc="lower right", fontsize=8)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=Sizes.timed_steps, help="timed training steps per run")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: check that every configuration runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--worker", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(run_worker(args.worker, Sizes(**json.loads(args.sizes)), args.data)))
        return

    sizes = SMOKE if args.smoke else Sizes(timed_steps=args.steps)
    repeats = 1 if args.smoke else args.repeats
    configs = args.configs if REFERENCE in args.configs else [REFERENCE, *args.configs]
    runs = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        prepare_imdb(sizes, folder)
        for repeat in range(1, repeats + 1):
            for config in rotated(configs, repeat):  # interleaved, so a slow spell of the machine falls on every configuration
                runs.append({"repeat": repeat, **measure(config, sizes, folder)})
                print(f"repeat {repeat} {config:<24} {runs[-1]['seconds_per_epoch']:6.1f} s/epoch, "
                      f"{1000 * runs[-1]['step_seconds']:.0f} ms/step", flush=True)
    rows = summarize(runs, configs)

    args.out.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "processor": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
              "date": time.strftime("%Y-%m-%d"), "smoke": args.smoke, "sizes": asdict(sizes), "repeats": repeats,
              "configs": {c: {"model": m, "what": w} for c, (m, w) in CONFIGS.items() if c in configs},
              "benchmark_seconds": time.perf_counter() - started, "runs": runs, "results": rows}
    (args.out / "gru_speed.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "gru_speed.md").write_text(markdown_table(rows) + "\n")
    bar_chart(rows, args.out / "gru_speed.png", f"Seconds per training epoch on {report['machine']}")
    print()
    print(markdown_table(rows))


if __name__ == "__main__":
    main()

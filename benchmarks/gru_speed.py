"""How fast does the Regularization Cookbook's GRU classifier train, under which framework settings?

The model is the book's: Embedding(20000, 32) -> 3 stacked GRU(32) -> Dense(1, sigmoid),
the first 200 tokens of each review, batch 64, Adam(1e-3), binary cross-entropy. Every
configuration trains it on the same real IMDb training reviews (the cookbook's pipeline,
a 20,000-word vocabulary), each shuffling them as its own loop does, for a few warm-up steps,
which absorb tracing and compilation, then for a fixed number of timed steps. The PyTorch
reference is the book's loop as printed: a Dataset, a shuffling DataLoader, and accuracy and
loss counted every batch; the Keras configurations count accuracy and loss every batch too.
Real reviews matter: as the model learns, some gradients shrink into denormal floats, which
slow many x86 CPUs down, so random tokens could flatter the PyTorch loop. Each configuration runs
in its own subprocess, because Keras chooses its backend once per process and because peak
memory is per process.

    python benchmarks/gru_speed.py                 # the full run; writes benchmarks/results/
    python benchmarks/gru_speed.py --smoke         # tiny sizes, seconds: checks every path runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REFERENCE = "pytorch"
CONFIGS = {
    "pytorch": "the book's plain PyTorch loop, torch.nn.GRU(num_layers=3)",
    "pytorch-flush-denormal": "the same loop after torch.set_flush_denormal(True)",
    "keras-tensorflow": "Keras 3 on TensorFlow, defaults (jit_compile='auto': no XLA on a CPU)",
    "keras-tensorflow-xla": "Keras 3 on TensorFlow, fixed batch shapes, use_cudnn=False and jit_compile=True",
    "keras-jax": "Keras 3 on JAX (always compiled with XLA)",
}
IMDB_TRAIN_REVIEWS = 25_000
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Sizes:
    vocab: int = 20_000
    length: int = 200
    batch: int = 64
    units: int = 32
    warmup_steps: int = 5
    timed_steps: int = 390  # one epoch of 25,000 reviews in batches of 64


SMOKE = Sizes(vocab=100, length=12, batch=8, units=4, warmup_steps=1, timed_steps=2)


def prepare_imdb(sizes: Sizes, path: Path, seed: int = 0) -> None:
    """Write the token ids and labels that every configuration trains on to ``path`` (.npz)."""
    sys.path.insert(0, str(REPO_ROOT))
    import helpers
    import numpy as np

    try:
        train, _ = helpers.load_imdb()
    except helpers.DataSetUnavailable as error:
        raise SystemExit(str(error)) from None
    train = train.sample(frac=1.0, random_state=seed)  # the official file is sorted by label
    vectorizer = helpers.imdb_vectorizer(train["text"].to_numpy(), vocab_size=sizes.vocab)
    needed = (sizes.warmup_steps + sizes.timed_steps) * sizes.batch
    texts = np.resize(train["text"].to_numpy(), needed)  # wraps around past one epoch
    tokens = helpers.truncate(helpers.token_ids(texts, vectorizer), sizes.length, keep="first")
    labels = np.resize(train["label"].to_numpy(), needed).astype(np.float32)[:, None]
    np.savez(path, tokens=tokens, labels=labels)


def load_imdb_arrays(path: Path):
    import numpy as np

    with np.load(path) as arrays:
        return arrays["tokens"], arrays["labels"]


def cpu_name() -> str:
    """The processor's model name where the OS tells it: the results depend on the processor."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def peak_memory_mb() -> float:
    """This process's peak resident memory, in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        # Linux carries ru_maxrss over from the parent across exec; VmHWM starts afresh.
        high_water_kb = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(high_water_kb.split()[1]) / 2**10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


# ---------------------------------------------------------------- PyTorch worker


def time_pytorch(sizes: Sizes, data: Path, flush_denormal: bool) -> float:
    """Time the book's training loop: its Dataset, a shuffling DataLoader and its per-batch bookkeeping."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    torch.manual_seed(0)
    if flush_denormal:
        # Tiny gradients become denormal floats, which x86 CPUs process very slowly.
        torch.set_flush_denormal(True)

    class TokenizedReviews(Dataset):
        """The book's TextClassificationDataset, given reviews that are already tokenized."""

        def __init__(self, tokens, labels):
            self.tokens, self.labels = tokens, labels

        def __len__(self):
            return len(self.tokens)

        def __getitem__(self, index):
            return self.tokens[index], self.labels[index]

    class GRUClassifier(nn.Module):
        def __init__(self, num_layers=3):
            super().__init__()
            self.num_layers = num_layers
            self.embedding = nn.Embedding(sizes.vocab, 32)
            self.gru = nn.GRU(32, sizes.units, num_layers=num_layers, batch_first=True)
            self.fc = nn.Linear(sizes.units, 1)

        def forward(self, inputs):
            zero_hidden = torch.zeros(self.num_layers, inputs.size(0), sizes.units)
            output, _ = self.gru(self.embedding(inputs), zero_hidden)
            return torch.sigmoid(self.fc(output[:, -1]))

    model = GRUClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.BCELoss()
    tokens, labels = load_imdb_arrays(data)
    tokens, labels = torch.from_numpy(tokens).long(), torch.from_numpy(labels)
    split = sizes.warmup_steps * sizes.batch

    def train_one_pass(first: int, last: int) -> None:
        reviews = TokenizedReviews(tokens[first:last], labels[first:last])
        loader = DataLoader(reviews, batch_size=sizes.batch, shuffle=True, generator=torch.Generator().manual_seed(0))
        model.train()
        correct, running_loss = 0.0, 0.0
        for inputs, targets in loader:
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            # Kept for their cost: the book counts accuracy and loss every batch, and .item() waits for the step.
            correct += ((outputs > 0.5) == targets).float().sum()
            running_loss += loss.item()

    train_one_pass(0, split)
    start = time.perf_counter()
    train_one_pass(split, len(tokens))
    return time.perf_counter() - start


# ------------------------------------------------------------------ Keras worker


def time_keras(sizes: Sizes, data: Path, backend: str, fixed_shapes_and_xla: bool) -> float:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    # Where a GPU is visible, a cuDNN-eligible GRU marks itself as not XLA-compilable and Keras
    # drops jit_compile=True; use_cudnn=False keeps the generic loop, which XLA compiles, everywhere.
    use_cudnn = False if fixed_shapes_and_xla else "auto"
    model = keras.Sequential(
        [
            keras.Input(shape=(sizes.length,), dtype="int32"),
            keras.layers.Embedding(sizes.vocab, 32, name="embedding"),
            keras.layers.GRU(sizes.units, return_sequences=True, use_cudnn=use_cudnn, name="gru_1"),
            keras.layers.GRU(sizes.units, return_sequences=True, use_cudnn=use_cudnn, name="gru_2"),
            keras.layers.GRU(sizes.units, use_cudnn=use_cudnn, name="gru_3"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],  # the book's loop counts accuracy every batch too
        jit_compile=True if fixed_shapes_and_xla else "auto",
    )
    if fixed_shapes_and_xla and not model.jit_compile:
        raise RuntimeError("Keras turned jit_compile off: this configuration would not measure XLA")
    tokens, labels = load_imdb_arrays(data)
    split = sizes.warmup_steps * sizes.batch

    def data(first: int, last: int):
        if not fixed_shapes_and_xla:
            return {"x": tokens[first:last], "y": labels[first:last], "batch_size": sizes.batch}
        import tensorflow as tf

        # drop_remainder gives every batch the static shape (64, 200), so XLA compiles once.
        dataset = tf.data.Dataset.from_tensor_slices((tokens[first:last], labels[first:last]))
        return {"x": dataset.batch(sizes.batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)}

    model.fit(**data(0, split), epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(**data(split, len(tokens)), epochs=1, verbose=0)
    return time.perf_counter() - start


WORKERS = {
    "pytorch": lambda sizes, data: time_pytorch(sizes, data, flush_denormal=False),
    "pytorch-flush-denormal": lambda sizes, data: time_pytorch(sizes, data, flush_denormal=True),
    "keras-tensorflow": lambda sizes, data: time_keras(sizes, data, "tensorflow", fixed_shapes_and_xla=False),
    "keras-tensorflow-xla": lambda sizes, data: time_keras(sizes, data, "tensorflow", fixed_shapes_and_xla=True),
    "keras-jax": lambda sizes, data: time_keras(sizes, data, "jax", fixed_shapes_and_xla=False),
}


def run_worker(config: str, sizes: Sizes, data: Path) -> dict:
    seconds = WORKERS[config](sizes, data)
    samples = sizes.timed_steps * sizes.batch
    return {
        "config": config,
        "samples_per_second": samples / seconds,
        "seconds_per_epoch": IMDB_TRAIN_REVIEWS / (samples / seconds),
        "peak_memory_mb": peak_memory_mb(),
    }


# ------------------------------------------------------------------------ driver


def measure(config: str, sizes: Sizes, data: Path) -> dict:
    """Run one configuration in a fresh interpreter and return its measurements."""
    command = [sys.executable, __file__, "--worker", config, "--sizes", json.dumps(asdict(sizes)), "--data", str(data)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(results: list[dict]) -> list[dict]:
    reference = next(r for r in results if r["config"] == REFERENCE)["seconds_per_epoch"]
    return [dict(r, speedup_vs_pytorch=reference / r["seconds_per_epoch"]) for r in results]


def markdown_table(results: list[dict]) -> str:
    lines = [
        "| configuration | samples/s | s/epoch (25,000 reviews) | peak memory (MB) | speed-up vs plain PyTorch |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['config']} | {r['samples_per_second']:.0f} | {r['seconds_per_epoch']:.1f} "
            f"| {r['peak_memory_mb']:.0f} | {r['speedup_vs_pytorch']:.2f}× |"
        )
    return "\n".join(lines)


def bar_chart(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["config"] for r in results]
    seconds = [r["seconds_per_epoch"] for r in results]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(results) + 1.5), layout="constrained")
    bars = ax.barh(names, seconds, color="#1f77b4", label="seconds per epoch")
    ax.bar_label(bars, [f"{r['speedup_vs_pytorch']:.2f}× vs PyTorch" for r in results], padding=4)
    ax.invert_yaxis()
    ax.set(xlabel="seconds per epoch of 25,000 reviews (lower is faster)", title=title)
    ax.set_xlim(right=max(seconds) * 1.35)
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=Sizes.timed_steps, help="timed training steps per configuration")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that every configuration runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--worker", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(run_worker(args.worker, Sizes(**json.loads(args.sizes)), args.data)))
        return

    sizes = SMOKE if args.smoke else Sizes(timed_steps=args.steps)
    configs = args.configs if REFERENCE in args.configs else [REFERENCE, *args.configs]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "imdb_tokens.npz"
        prepare_imdb(sizes, data)
        for config in configs:
            print(f"{config:<24} {CONFIGS[config]} ...", flush=True)
            results.append(measure(config, sizes, data))
            print(f"{'':<24} {results[-1]['seconds_per_epoch']:.1f} s/epoch", flush=True)
    results = summarize(results)

    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{cpu_name()}, {os.cpu_count()} CPU cores, {platform.system()}"
    report = {"machine": machine, "sizes": asdict(sizes), "configs": CONFIGS, "results": results}
    (args.out / "gru_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    bar_chart(results, args.out / "gru_speed.png", f"The book's 3 × GRU(32) model, training on {machine}")
    print()
    print(markdown_table(results))


if __name__ == "__main__":
    main()

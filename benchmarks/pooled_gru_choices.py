"""Recipe 08's choices, measured: one change at a time from a base pooled GRU, three seeds each, on validation.

Every variant trains `helpers.train_pooled_classifier` (the function recipe 08 prints and trains its
final model with) on the cookbook's split: 22,500 training reviews, the 2,500 validation reviews drawn
from the official training set; the official test set is never read here. Each variant differs from
the base in one setting, and is trained once per seed (1, 2, 3) with that seed's weights and batch
order, so variants can be compared seed by seed. Per epoch the script records validation accuracy and
loss and the seconds spent (training plus that epoch's validation pass), which recipe 08 turns into
its decisions and its time-to-accuracy figure.

    python benchmarks/pooled_gru_choices.py            # the full run, about an hour on 2 cores (writes benchmarks/results/)
    python benchmarks/pooled_gru_choices.py --smoke    # tiny sizes, seconds: checks every path runs
    python benchmarks/pooled_gru_choices.py --only "last state instead of pooling"   # one variant, rows replaced

`--step-timing FILE` is the backend measurement recipe 08 runs in a subprocess per backend (Keras
picks its backend once per process): it times training steps of the base model on the token-id
batches stored in FILE and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from common import cpu_name  # shared by the benchmark scripts (this folder is on sys.path when a script runs)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "pooled_gru_choices.json"
SEEDS = (1, 2, 3)

# The base configuration; every variant changes one thing.
BASE = {
    "vocab_size": 10_000, "max_length": 800, "embedding_dim": 64, "units": 64, "pooling": True,
    "bidirectional": False, "spatial_dropout": 0.2, "head_dropout": 0.3, "epochs": 3, "batch_size": 128, "learning_rate": 3e-3, "weight_decay": 0.0,
}
VARIANTS = {
    "base: GRU(64), max+mean pooling, 10,000 words, first 800 tokens": {},
    "last state instead of pooling": {"pooling": False},
    "bidirectional": {"bidirectional": True},
    "first 256 tokens": {"max_length": 256},
    "whole reviews": {"max_length": None},
    "20,000-word vocabulary": {"vocab_size": 20_000},
    "stronger dropout (0.4 on embeddings, 0.5 before the output)": {"spatial_dropout": 0.4, "head_dropout": 0.5},
    "AdamW (weight decay 0.01)": {"weight_decay": 0.01},
    "batch 256": {"batch_size": 256},
}
SMOKE_REVIEWS = {"train": 600, "validation": 200}


def configuration(variant: str) -> dict:
    return {**BASE, **VARIANTS[variant]}


def run_variants(smoke: bool, only: str | None = None) -> list[dict]:
    import helpers

    splits = helpers.imdb_splits()
    if smoke:
        splits = {name: splits[name].iloc[:SMOKE_REVIEWS[name]] for name in SMOKE_REVIEWS}
    texts = {name: frame["text"].to_numpy() for name, frame in splits.items()}
    labels = {name: frame["label"].to_numpy().astype("float32") for name, frame in splits.items()}
    whole_ids = {}  # per vocabulary size: every review's token ids, ragged
    rows = []
    for seed in SEEDS[:1] if smoke else SEEDS:  # seed-major: a slow spell of the machine falls on several variants of one seed, not on every seed of one variant
        for variant in [only] if only else VARIANTS:
            config = configuration(variant)
            vocab_size = config["vocab_size"]
            if vocab_size not in whole_ids:
                vectorizer = helpers.imdb_vectorizer(texts["train"], vocab_size)
                whole_ids[vocab_size] = {name: helpers.token_ids(t, vectorizer) for name, t in texts.items()}
            ragged = whole_ids[vocab_size]
            max_length = config["max_length"] or int(max(r.row_lengths().numpy().max() for r in ragged.values()))
            ids = {name: helpers.truncate(r, 64 if smoke else max_length, keep="first") for name, r in ragged.items()}
            options = {key: value for key, value in config.items() if key != "max_length"}
            if smoke:
                options["epochs"] = 1
            model, history, seconds = helpers.train_pooled_classifier(ids, labels, seed=seed, **options)
            rows.append({
                "variant": variant, "seed": seed, "parameters": model.count_params(),
                "epoch_val_accuracy": history["val_accuracy"], "epoch_val_loss": history["val_loss"],
                "epoch_train_accuracy": history["accuracy"], "epoch_seconds": seconds,
            })
            best = max(history["val_accuracy"])
            print(f"{variant} | seed {seed}: best validation accuracy {best:.4f}, {sum(seconds):.0f} s", flush=True)
            keras_clear()
    return rows


def report(rows: list[dict], smoke: bool) -> dict:
    import keras
    import tensorflow as tf

    return {
        "processor": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "date": time.strftime("%Y-%m-%d"),
        "smoke": smoke, "base": BASE, "variants": VARIANTS, "seeds": list(SEEDS[:1] if smoke else SEEDS), "runs": rows,
    }


def keras_clear() -> None:
    import keras

    keras.backend.clear_session()


def time_steps(batches_file: str, steps: int, warmup: int, changes: dict) -> dict:
    """Seconds per training step of the base model with ``changes`` on the stored batches, on this process's backend.

    The first ``warmup`` steps (tracing, compiling) are timed apart; every batch has the stored shape.
    """
    import numpy as np
    import keras
    import helpers

    stored = np.load(batches_file)
    ids, targets = stored["ids"], stored["targets"]
    config = {**BASE, **changes}
    options = {key: config[key] for key in ("vocab_size", "embedding_dim", "units", "bidirectional", "pooling")}
    model = helpers.build_pooled_classifier("pooled_gru_timing", seed=1, **options)
    model.compile(optimizer=keras.optimizers.Adam(BASE["learning_rate"]), loss="binary_crossentropy", metrics=["accuracy"])
    batch_size = BASE["batch_size"]
    n_batches = len(ids) // batch_size
    durations = []
    for step in range(warmup + steps):
        rows = slice((step % n_batches) * batch_size, (step % n_batches + 1) * batch_size)
        started = time.perf_counter()
        model.train_on_batch(ids[rows], targets[rows])
        durations.append(time.perf_counter() - started)
    return {
        "backend": keras.backend.backend(), "warmup_seconds": durations[:warmup], "seconds_per_step": durations[warmup:],
        "batch_shape": [batch_size, int(ids.shape[1])],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one seed, one epoch: checks that every path runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--step-timing", metavar="FILE", help="time training steps on the batches in FILE (.npz: ids, targets)")
    parser.add_argument("--only", choices=list(VARIANTS), help="retrain this variant and replace its rows in the log at --out")
    parser.add_argument("--changes", default="{}", help="with --step-timing: JSON of settings that differ from the base")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    if args.step_timing:
        print(json.dumps(time_steps(args.step_timing, args.steps, args.warmup, json.loads(args.changes))))
        return
    if args.only:
        # Retrain one variant and replace its rows in the existing log (every run is seeded by its seed alone).
        log = json.loads(args.out.read_text())
        fresh = run_variants(args.smoke, only=args.only)
        log["runs"] = [run if run["variant"] != args.only else fresh.pop(0) for run in log["runs"]]
        log.setdefault("rerun", {})[args.only] = time.strftime("%Y-%m-%d")
    else:
        log = report(run_variants(args.smoke), args.smoke)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(log, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

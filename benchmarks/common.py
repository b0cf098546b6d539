"""What the benchmark scripts share: the machine's description, peak memory, and the book's PyTorch model.

The scripts run from this folder (``python benchmarks/<script>.py`` puts it on ``sys.path``), so they
import this module by name. PyTorch is imported inside the function that needs it: it is an extra
(``benchmarks/requirements.txt``), not part of the cookbook's install.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # the scripts import helpers from the repository root

# The book's model (Regularization Cookbook, chapter 8, "Training a GRU"): an embedding the size of
# bert-base-uncased's vocabulary, three stacked GRU layers of 32 units and a sigmoid on the last step.
BOOK_VOCAB = 30_522
BOOK_EMBEDDING = 32
BOOK_UNITS = 32
BOOK_LAYERS = 3


def cpu_name() -> str:
    """The processor's model name where the OS tells it: the results depend on the processor."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    return f"{cpu_name()}, {os.cpu_count()} CPU cores, {platform.system()}"


def peak_memory_mb() -> float:
    """This process's peak resident memory, in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        # Linux carries ru_maxrss over from the parent across exec; VmHWM starts afresh.
        high_water_kb = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(high_water_kb.split()[1]) / 2**10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def book_pytorch_model(vocab: int = BOOK_VOCAB, units: int = BOOK_UNITS, embedding: int = BOOK_EMBEDDING):
    """The book's ``GRUClassifier``: Embedding -> nn.GRU(num_layers=3) -> Linear -> sigmoid of the last step.

    As printed, it builds a zero initial state in every ``forward`` and reads ``output[:, -1]``, the
    last position, whether or not it is padding.
    """
    import torch
    from torch import nn

    class GRUClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embedding)
            self.gru = nn.GRU(embedding, units, num_layers=BOOK_LAYERS, batch_first=True)
            self.fc = nn.Linear(units, 1)

        def forward(self, inputs):
            zero_hidden = torch.zeros(BOOK_LAYERS, inputs.size(0), units)
            output, _ = self.gru(self.embedding(inputs), zero_hidden)
            return torch.sigmoid(self.fc(output[:, -1]))

    return GRUClassifier()


def book_data_loader(tokens, labels, batch_size: int, seed: int):
    """The book's ``Dataset`` (here given reviews already tokenized) in a shuffling ``DataLoader``."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    class TokenizedReviews(Dataset):
        def __init__(self):
            self.tokens, self.labels = torch.as_tensor(tokens).long(), torch.as_tensor(labels).float()

        def __len__(self):
            return len(self.tokens)

        def __getitem__(self, index):
            return self.tokens[index], self.labels[index]

    return DataLoader(TokenizedReviews(), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


def book_training_step(model, optimizer, criterion, inputs, targets, tally: dict) -> None:
    """One step of the book's loop, with its per-batch bookkeeping (accuracy and ``loss.item()``, which waits for the step)."""
    outputs = model(inputs)
    loss = criterion(outputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    tally["correct"] = tally.get("correct", 0.0) + ((outputs > 0.5) == targets).float().sum()
    tally["loss"] = tally.get("loss", 0.0) + loss.item()


def imdb_splits_or_exit():
    """The cookbook's IMDb split (``helpers.imdb_splits``), or exit with the loader's message on how to get the data."""
    import helpers

    try:
        return helpers.imdb_splits()
    except helpers.DataSetUnavailable as error:
        raise SystemExit(str(error)) from None


def rotated(configs: list[str], repeat: int) -> list[str]:
    """The configurations in the order of repeat ``repeat`` (1, 2...): rotated each time, so none always runs first."""
    shift = (repeat - 1) % len(configs)
    return configs[shift:] + configs[:shift]


def run_worker_process(script: str, arguments: list[str], backend: str, what: str) -> dict:
    """Run ``script --worker ...`` in a fresh interpreter with ``KERAS_BACKEND=backend``; return the JSON of its last line."""
    import json
    import subprocess

    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

"""One run seed, independent streams for the parts of a run (paired comparisons, issue 18 item 6).

For one seed every method's segmentation network must start from the same weights and see the
same batches and augmentations, whatever the method builds or draws. So each part draws from a
stream of its own, seeded by :func:`part_seed` (``seed``, part name):

| part | stream | what draws from it |
|---|---|---|
| ``model`` | torch's CPU generator, forked around the construction | the segmentation network's initial weights (or, in the superpixel track, the network it trains) |
| ``method`` | the same, forked | the method's own modules (deformation module, learned resizer, aux net shell before its checkpoint loads) |
| ``method_wrap`` | the same, forked | what a network-downsampling method adds when it wraps the model (Suzuki's clustering projections) |
| ``batches`` | a ``torch.Generator`` | which samples form each batch |
| ``augment`` | a ``torch.Generator`` | scale, crop and flip of every sample |
| ``forward`` | torch's global generators (CPU and CUDA), reseeded before the first iteration | dropout or any random draw in a model's or a method's forward during training |

A construction inside :func:`seeded` leaves the global generator as it found it, so the initial
weights of the network depend only on (seed, model, its options, num_classes), never on the
method, and no part's draws shift another's. The batch, augmentation and forward states are all
in the checkpoint, so a resumed run is bit-equal to an uninterrupted one.

Derivation (stable across Python versions, platforms and processes, unlike ``hash()``)::

    part_seed(seed, part) = int.from_bytes(sha256(f"dsbench-seed-v1:{seed}:{part}").digest()[:8], "big") & (2**63 - 1)
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import Iterator

import torch

MODEL = "model"
METHOD = "method"
METHOD_WRAP = "method_wrap"
BATCHES = "batches"
AUGMENT = "augment"
FORWARD = "forward"
PARTS = (MODEL, METHOD, METHOD_WRAP, BATCHES, AUGMENT, FORWARD)
DERIVATION = "dsbench-seed-v1"  # changing it changes every trained number


def part_seed(seed: int, part: str) -> int:
    """The seed of ``part`` of a run of seed ``seed``: 63 bits of sha256 of (version, seed, part)."""
    if part not in PARTS:
        raise ValueError(f"unknown seeding part {part!r}; one of {', '.join(PARTS)}")
    digest = hashlib.sha256(f"{DERIVATION}:{int(seed)}:{part}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def part_generator(seed: int, part: str) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded for ``part`` (the batch order, the augmentations)."""
    return torch.Generator().manual_seed(part_seed(seed, part))


@contextlib.contextmanager
def seeded(seed: int, part: str) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded for ``part``; restore its state after.

    Networks are built on the CPU, so only the CPU generator is forked (CUDA is never touched:
    building a pipeline for evaluation on a CPU-only run initialises nothing)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(part_seed(seed, part))
        yield


def seed_forward(seed: int) -> None:
    """Seed torch's global generators (CPU and every CUDA device) for the training forward passes."""
    torch.manual_seed(part_seed(seed, FORWARD))


__all__ = ["AUGMENT", "BATCHES", "DERIVATION", "FORWARD", "METHOD", "METHOD_WRAP", "MODEL", "PARTS",
           "part_generator", "part_seed", "seed_forward", "seeded"]

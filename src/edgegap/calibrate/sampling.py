"""Which shapes `edgegap calibrate` times: a seeded sample of each operator kind over the
range of shapes vision and language models use, drawn without reference to any model.

Channel counts are mostly multiples of 16 or 8 (the widths networks are designed with, and
the vector widths CPU kernels block by) and sometimes arbitrary; feature maps run from 7 to
224 pixels, kernels from 1 to 7, strides 1 and 2; matrix products span 1 to 4096 rows. Each
sample is kept only if it is a size a model layer could be (at most `MAX_MACS` MACs and
`MAX_INPUT_ELEMENTS` input elements), so calibration stays within minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from edgegap.calibrate import graphs
from edgegap.calibrate.graphs import Kernel

MAX_MACS = 2e9
MAX_INPUT_ELEMENTS = 4e6
# The most rows a streamed product is timed at: a prompt's tokens as runtimes batch them
# (llama.cpp's default micro-batch, `-ub 512`); each run reads a working set of weights, so
# its time grows with the rows.
STREAMED_ROWS = 512
SIZES = (7, 14, 28, 56, 112, 224)
ODD_SIZES = (8, 17, 35, 73, 147, 299)  # unpadded stems and odd-sized feature maps


def _channels(rng: np.random.Generator, low: int, high: int) -> int:
    value = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    draw = rng.random()
    step = 16 if draw < 0.6 else 8 if draw < 0.85 else 1
    return max(step, round(value / step) * step)


def _size(rng: np.random.Generator) -> int:
    return int(rng.choice(SIZES if rng.random() < 0.85 else ODD_SIZES))


def convolutions(kind: str, count: int, seed: int) -> Iterator[Kernel]:
    """`count` convolutions of `kind` (conv, depthwise or grouped)."""
    rng = np.random.default_rng([seed, ("conv", "depthwise", "grouped").index(kind)])
    made = 0
    while made < count:
        size, stride = _size(rng), int(rng.choice((1, 1, 1, 2)))
        if kind == "conv":
            kernel = int(rng.choice((1, 1, 1, 3, 3, 5, 7)))
            cin = 3 if rng.random() < 0.05 else _channels(rng, 8, 2048)
            cout, groups = _channels(rng, 8, 2048), 1
        elif kind == "depthwise":
            kernel = int(rng.choice((3, 3, 5, 7)))
            cin = cout = groups = _channels(rng, 8, 2048)
        else:
            width = _channels(rng, 4, 512)
            groups = int(rng.choice((2, 3, 4, 6, 8, 16, 32, 64)))
            kernel = int(rng.choice((1, 3, 3)))
            cin = cout = width * groups
            if cin > 4096:
                continue
        out = (size + 2 * (kernel // 2) - kernel) // stride + 1
        macs = out * out * cout * cin // groups * kernel * kernel
        if macs > MAX_MACS or cin * size * size > MAX_INPUT_ELEMENTS or out < 1:
            continue
        made += 1
        yield graphs.conv(cin, cout, size, kernel, stride, groups)


def matmuls(count: int, seed: int) -> Iterator[Kernel]:
    """`count` matrix products: linear layers (one row for a classifier, up to thousands of
    tokens for a transformer) and attention's batched products of activations."""
    rng = np.random.default_rng([seed, 3])
    made = 0
    while made < count:
        weighted = rng.random() < 0.7
        m = int(np.exp(rng.uniform(0, np.log(4096)))) if rng.random() < 0.8 else 1
        k, n = _channels(rng, 16, 4096), _channels(rng, 16, 4096)
        batch = 1 if weighted else int(rng.choice((1, 3, 4, 6, 8, 12, 16)))
        if batch * m * k * n > MAX_MACS or batch * m * k > MAX_INPUT_ELEMENTS:
            continue
        made += 1
        yield graphs.matmul(batch, m, k, n, weighted)


def streams(count: int, seed: int) -> Iterator[Kernel]:
    """`count` of each streaming kind: feature maps of 16 to 1024 channels at the sampled
    sizes, copies and transformer rows from 4 KiB to 64 MiB."""
    rng = np.random.default_rng([seed, 4])
    for _ in range(count):
        channels, size = _channels(rng, 16, 1024), _size(rng)
        while channels * size * size > MAX_INPUT_ELEMENTS:
            size //= 2
        yield graphs.activation(channels, size)
        yield graphs.elementwise(channels, size)
        yield graphs.affine(channels, size)
        yield graphs.pool(channels, max(size, 8), 3, 2)
        yield graphs.reduction(channels, size)
        yield graphs.movement(int(np.exp(rng.uniform(np.log(1024), np.log(16 * 2**20)))))
        rows, width = int(np.exp(rng.uniform(0, np.log(4096)))), _channels(rng, 64, 4096)
        yield graphs.normalization("norm", rows, width)
        yield graphs.normalization("softmax", rows, width)


def streamed_matmuls(count: int, seed: int, working_set: int) -> Iterator[Kernel]:
    """`count` linear layers on weights that stream from DRAM (`graphs.streamed_matmul`):
    half of them one row (a decode step's matrix-vector products), the rest up to
    `STREAMED_ROWS` (a few sequences at once, or a prompt's tokens: a prefill's products
    also read their weights from DRAM), weights of 256 to 16,384 channels a side that fit
    the working set."""
    rng = np.random.default_rng([seed, 5])
    made = 0
    while made < count:
        m = 1 if rng.random() < 0.5 else int(np.exp(rng.uniform(0, np.log(STREAMED_ROWS))))
        k, n = _channels(rng, 256, 16384), _channels(rng, 256, 16384)
        if k * n * graphs.FLOAT_BYTES > working_set or m * k * n > MAX_MACS:
            continue
        made += 1
        yield graphs.streamed_matmul(m, k, n, working_set)

"""Folding a matrix product over a systolic array: the one place the cycle rule lives.

A layer's matrix form (m output positions x k reduction x n filters) becomes three operand
dimensions per dataflow, as in SCALE-Sim (Samajdar et al., ISPASS 2020):

| dataflow | Sr (array rows) | Sc (array columns) | T (temporal) |
|---|---|---|---|
| os, output stationary | m | n | k |
| ws, weight stationary | k | n | m |
| is, input stationary  | k | m | n |

The operand is folded over the array in ceil(Sr/rows) x ceil(Sc/cols) folds. Each fold streams
T values through the array and fills and drains it: rows + cols - 2 cycles for os, where the
outputs stay put; 2 rows + cols - 2 for ws and is, which first load the stationary operand
(rows cycles). The count is the index of the last cycle, counted from 0 (one less than the
cycles elapsed), as SCALE-Sim 3.0.0 reports its `Total Cycles`: equal to its reports on every
reference layer in `tests/test_systolic.py` (how they were made: tests/data/scalesim/README.md).

Every function takes numpy arrays that broadcast against each other, with the dataflow as an
index into DATAFLOWS (or its name), so that a design sweep evaluates millions of
(layer, design) pairs at once.
"""

from __future__ import annotations

from typing import get_args

import numpy as np
import numpy.typing as npt

from edgegap.hardware.platform import Dataflow

DATAFLOWS: tuple[Dataflow, ...] = get_args(Dataflow)
Ints = npt.ArrayLike
IntArray = npt.NDArray[np.int64]


def dataflow_index(dataflow: Dataflow | npt.ArrayLike) -> IntArray:
    if isinstance(dataflow, str):
        if dataflow not in DATAFLOWS:
            raise ValueError(f"unknown dataflow {dataflow!r}: use os, ws or is")
        return np.asarray(DATAFLOWS.index(dataflow))
    return np.asarray(dataflow, dtype=np.int64)


def operand_dims(
    m: Ints, k: Ints, n: Ints, dataflow: Dataflow | npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray]:
    """(Sr, Sc, T) of a matrix product (m x k) @ (k x n) under each dataflow."""
    index = dataflow_index(dataflow)
    m, k, n = (np.asarray(x, dtype=np.int64) for x in (m, k, n))
    return np.choose(index, [m, k, k]), np.choose(index, [n, n, m]), np.choose(index, [k, m, n])


def folds(sr: Ints, sc: Ints, rows: Ints, cols: Ints) -> tuple[IntArray, IntArray]:
    """Folds of the operand over the array's rows and columns (ceiling divisions)."""
    row_folds = -(-np.asarray(sr, dtype=np.int64) // np.asarray(rows, dtype=np.int64))
    col_folds = -(-np.asarray(sc, dtype=np.int64) // np.asarray(cols, dtype=np.int64))
    return row_folds, col_folds


def grouped_cycles(
    groups: Ints, m: Ints, k: Ints, n: Ints, rows: Ints, cols: Ints,
    dataflow: Dataflow | npt.ArrayLike,
) -> IntArray:  # fmt: skip
    """Cycles of `groups` independent products (m x k) @ (k x n), the fewer of two mappings:
    one group after another, or p groups at a time as one product with a block-diagonal
    (k p x n p) weight matrix (zeros off the blocks, executed like any other value), p as
    large as the array dimensions that grow with it allow. Packing spares a depthwise
    convolution's fill and drain per channel; one group (a dense layer) is never packed, so
    dense layers keep SCALE-Sim's count exactly."""
    index = dataflow_index(dataflow)
    groups, m, k, n = (np.asarray(x, dtype=np.int64) for x in (groups, m, k, n))
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    one_by_one = groups * cycles(*operand_dims(m, k, n, index), rows, cols, index)
    by_rows, by_cols = np.maximum(rows // k, 1), np.maximum(cols // n, 1)
    # k p lies along the rows under ws and is; n p along the columns under os and ws
    fit = np.choose(index, [by_cols, np.minimum(by_rows, by_cols), by_rows])
    pack = np.maximum(np.minimum(fit, groups), 1)
    packed = -(-groups // pack) * cycles(
        *operand_dims(m, k * pack, n * pack, index), rows, cols, index
    )
    return np.asarray(np.minimum(one_by_one, packed), dtype=np.int64)


def cycles(
    sr: Ints, sc: Ints, t: Ints, rows: Ints, cols: Ints, dataflow: Dataflow | npt.ArrayLike
) -> IntArray:
    """Compute cycles with no memory stall: SCALE-Sim's `Total Cycles`."""
    row_folds, col_folds = folds(sr, sc, rows, cols)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    load = np.where(dataflow_index(dataflow) == 0, 0, rows)
    per_fold = np.asarray(t, dtype=np.int64) + rows + load + cols - 2
    return np.asarray(row_folds * col_folds * per_fold - 1, dtype=np.int64)

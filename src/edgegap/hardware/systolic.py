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
(rows cycles). The run ends one cycle before the last fold's drain would: these are
SCALE-Sim 3.0.0's `Total Cycles`, checked exactly against its reports in
`tests/test_systolic.py` (how they were made: `tests/data/scalesim/README.md`). All functions
take numpy arrays so that a design sweep evaluates millions of (layer, design) pairs at once.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Dataflow = Literal["os", "ws", "is"]
Ints = npt.NDArray[np.int64] | int


def operand_dims(m: Ints, k: Ints, n: Ints, dataflow: Dataflow) -> tuple[Ints, Ints, Ints]:
    """(Sr, Sc, T) of a matrix product (m x k) @ (k x n) under `dataflow`."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}: use os, ws or is")


def folds(
    sr: Ints, sc: Ints, rows: Ints, cols: Ints
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Folds of the operand over the array's rows and columns (ceiling divisions)."""
    row_folds = -(-np.asarray(sr, dtype=np.int64) // np.asarray(rows, dtype=np.int64))
    col_folds = -(-np.asarray(sc, dtype=np.int64) // np.asarray(cols, dtype=np.int64))
    return row_folds, col_folds


def cycles(
    sr: Ints, sc: Ints, t: Ints, rows: Ints, cols: Ints, dataflow: Dataflow
) -> npt.NDArray[np.int64]:
    """Compute cycles with no memory stall: SCALE-Sim's `Total Cycles`."""
    row_folds, col_folds = folds(sr, sc, rows, cols)
    load = 0 if dataflow == "os" else np.asarray(rows)
    per_fold = np.asarray(t) + np.asarray(rows) + load + np.asarray(cols) - 2
    return np.asarray(row_folds * col_folds * per_fold - 1, dtype=np.int64)


def mapping_efficiency(sr: Ints, sc: Ints, rows: Ints, cols: Ints) -> npt.NDArray[np.float64]:
    """Fraction of PEs holding a mapped operand, averaged over folds."""
    row_folds, col_folds = folds(sr, sc, rows, cols)
    return np.asarray(sr * sc / (row_folds * rows * col_folds * cols), dtype=np.float64)

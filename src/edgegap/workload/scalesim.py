"""SCALE-Sim topology CSVs as workloads, so that its users can bring their layers as they are.

Format (SCALE-Sim, Samajdar et al.): `Layer name, IFMAP Height, IFMAP Width, Filter Height,
Filter Width, Channels, Num Filter, Strides,` with one convolution per row, no padding column
(the IFMAP size includes any padding) and output size ceil((H - R + stride) / stride).

Depthwise rows follow SCALE-Sim's own rule (`scalesim/topology_utils.py`,
`load_arrays_conv`, in scale-sim-v2 and scale-sim-v3 alike): a row whose layer name contains
"DP" (case-sensitive, anywhere) is run as `Channels` layers of one channel each, every one
with the row's `Num Filter` filters. Here that row is one grouped convolution with groups =
Channels and Channels x Num Filter output channels, so its MACs are SCALE-Sim's sum over the
per-channel layers; how a platform schedules the groups is the cost model's
(`hardware.systolic.grouped_cycles`). Any other row is dense, as SCALE-Sim reads it: a row
that describes a depthwise layer as `Num Filter` 1 without "DP" (as its example
`mobilenet.csv` does) is a dense convolution with one filter, whose MACs equal the
depthwise layer's but whose output has one channel.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from edgegap.errors import UserError
from edgegap.workload import formulas
from edgegap.workload.layer import Layer, Workload
from edgegap.workload.shapes import MAX_DIMENSION, MAX_ELEMENTS

COLUMNS = (
    "Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
    "Num Filter", "Strides",
)  # fmt: skip
DEPTHWISE_MARK = "DP"  # in a layer name: SCALE-Sim's depthwise row (topology_utils.py)


def is_depthwise(name: str) -> bool:
    """SCALE-Sim's test, exactly: `'DP' in elems[0].strip()`."""
    return DEPTHWISE_MARK in name.strip()


def _layer(index: int, row: dict[str, str], where: str, bits: int) -> Layer:
    values: dict[str, int] = {}
    for column in COLUMNS[1:]:
        text = (row.get(column) or "").strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", text):
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise UserError(f"{where}: {column}: '{shown}' is not an integer")
        values[column] = int(text)
        if not 0 < values[column] <= MAX_DIMENSION:
            raise UserError(
                f"{where}: {column}: must be positive, at most {MAX_DIMENSION:,} (2**31 - 1), "
                f"got {values[column]}"
            )
    h, w = values["IFMAP Height"], values["IFMAP Width"]
    r, s = values["Filter Height"], values["Filter Width"]
    c, m, stride = values["Channels"], values["Num Filter"], values["Strides"]
    if r > h or s > w:
        raise UserError(f"{where}: the {r}x{s} filter is larger than the {h}x{w} IFMAP")
    for what, elements in (("IFMAP", c * h * w), ("filter", m * c * r * s)):
        if elements > MAX_ELEMENTS:
            raise UserError(
                f"{where}: the {what} holds {elements:.3g} elements, above {MAX_ELEMENTS:,} "
                "(2**40): give the layer's real size"
            )
    name = (row.get("Layer name") or "").strip()
    # A depthwise row: each of the c channels convolved with its own m filters of one channel.
    groups, filters, per_filter = (c, c * m, 1) if is_depthwise(name) else (1, m, c)
    if filters > MAX_DIMENSION:
        raise UserError(
            f"{where}: a depthwise row of {c} channels x {m} filters gives {filters:,} output "
            f"channels, above {MAX_DIMENSION:,} (2**31 - 1)"
        )
    out = (1, filters, math.ceil((h - r + stride) / stride), math.ceil((w - s + stride) / stride))
    weight = (filters, per_filter, r, s)
    count = formulas.conv((1, c, h, w), weight, out, groups=groups, transposed=False, bias=False)
    return Layer(
        index=index,
        name=name or f"layer{index}",
        op="convolution",
        kind=count.kind,
        input_shapes=((1, c, h, w),),
        output_shape=out,
        elementwise_flops=count.elementwise_flops,
        params=math.prod(weight),
        weight_elements=math.prod(weight),
        input_elements=c * h * w,
        output_elements=math.prod(out),
        weight_bits=bits,
        activation_bits=bits,
        gemms=count.gemms,
    )


def read_topology(path: Path, bits: int = 8) -> Workload:
    """Read a topology CSV into a Workload of `bits`-wide layers (SCALE-Sim counts words)."""
    if path.is_dir():
        raise UserError(f"topology {path} is a directory: give a SCALE-Sim topology CSV file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read topology {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not a UTF-8 text file (byte {error.start}): a topology is a CSV"
        ) from None
    if not text.strip():
        raise UserError(f"{path}: empty file: a topology is a CSV of {', '.join(COLUMNS)}")
    try:
        reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
        header = [name.strip() for name in reader.fieldnames or [] if name and name.strip()]
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise UserError(f"{path}:1: missing columns {', '.join(missing)} (SCALE-Sim topology)")
        rows = [{k.strip(): v for k, v in row.items() if isinstance(k, str)} for row in reader]
    except csv.Error as error:
        raise UserError(f"{path}:{reader.line_num}: malformed CSV ({error})") from None
    layers = tuple(
        _layer(index, row, f"{path}:{index + 2}", bits)
        for index, row in enumerate(rows)
        if any(isinstance(v, str) and v.strip() for v in row.values())
    )
    if not layers:
        raise UserError(f"{path}: no layers in the topology")
    # Layers run one after another: the largest input plus output is the live set.
    peak = max(layer.input_bytes + layer.output_bytes for layer in layers)
    return Workload(path.stem, (1,), layers, peak_activation_bytes=peak)

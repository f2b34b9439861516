"""SCALE-Sim topology CSVs as workloads, so that its users can bring their layers as they are.

Format (SCALE-Sim, Samajdar et al.): `Layer name, IFMAP Height, IFMAP Width, Filter Height,
Filter Width, Channels, Num Filter, Strides,` with one convolution per row, no padding column
(the IFMAP size includes any padding) and output size ceil((H - R + stride) / stride).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from edgegap.errors import UserError
from edgegap.workload import formulas
from edgegap.workload.layer import Layer, Workload

COLUMNS = (
    "Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
    "Num Filter", "Strides",
)  # fmt: skip


def _layer(index: int, row: dict[str, str], where: str, bits: int) -> Layer:
    values: dict[str, int] = {}
    for column in COLUMNS[1:]:
        text = (row.get(column) or "").strip()
        try:
            values[column] = int(text)
        except ValueError:
            raise UserError(f"{where}: {column}: '{text}' is not an integer") from None
        if values[column] <= 0:
            raise UserError(f"{where}: {column}: must be positive, got {values[column]}")
    h, w = values["IFMAP Height"], values["IFMAP Width"]
    r, s = values["Filter Height"], values["Filter Width"]
    c, m, stride = values["Channels"], values["Num Filter"], values["Strides"]
    if r > h or s > w:
        raise UserError(f"{where}: the {r}x{s} filter is larger than the {h}x{w} IFMAP")
    out = (1, m, math.ceil((h - r + stride) / stride), math.ceil((w - s + stride) / stride))
    count = formulas.conv((1, c, h, w), (m, c, r, s), out, groups=1, transposed=False, bias=False)
    return Layer(
        index=index,
        name=row["Layer name"].strip() or f"layer{index}",
        op="convolution",
        kind=count.kind,
        input_shapes=((1, c, h, w),),
        output_shape=out,
        elementwise_flops=count.elementwise_flops,
        params=m * c * r * s,
        weight_elements=m * c * r * s,
        input_elements=c * h * w,
        output_elements=math.prod(out),
        weight_bits=bits,
        activation_bits=bits,
        gemms=count.gemms,
    )


def read_topology(path: Path, bits: int = 8) -> Workload:
    """Read a topology CSV into a Workload of `bits`-wide layers (SCALE-Sim counts words)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read topology {path}: {error.strerror}") from None
    reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
    header = [name.strip() for name in reader.fieldnames or [] if name and name.strip()]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise UserError(f"{path}:1: missing columns {', '.join(missing)} (SCALE-Sim topology)")
    rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    layers = tuple(
        _layer(index, row, f"{path}:{index + 2}", bits)
        for index, row in enumerate(rows)
        if any((v or "").strip() for v in row.values())
    )
    if not layers:
        raise UserError(f"{path}: no layers in the topology")
    # Layers run one after another: the largest input plus output is the live set.
    peak = max(layer.input_bytes + layer.output_bytes for layer in layers)
    return Workload(path.stem, (1,), layers, peak_activation_bytes=peak)

"""A hardware platform is data: a YAML file validated by these pydantic models.

Every number carries its provenance: each section (the chip, its compute, each memory level)
has a `source` citing the paper, datasheet or public table its numbers come from, and
`notes` saying how a number was derived where it was not read directly.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_serializer,
    model_validator,
)

from edgegap.errors import UserError
from edgegap.host import CpuFeatures
from edgegap.precision import OPS_PER_MAC
from edgegap.workload.fusion import DEFAULT_RULES, Rule


def _bound(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _ranged(lo: float, hi: float, unit: str, integer: bool) -> WrapValidator:
    """Validation that refuses booleans and names the whole range (and unit) on any failure,
    so that one message says what a field accepts."""
    kind = "an integer" if integer else "a finite number"
    expected = f"must be {kind} in {_bound(lo)}..{_bound(hi)}{unit}"

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        if isinstance(value, bool):  # YAML `true` is not 1
            raise ValueError(f"{expected}, got {shown}")
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(f"{expected}, got {shown}") from None

    return WrapValidator(validate)


# The physical ranges of the schema: bounds no real chip exceeds, every catalog platform meets.
# Each bound is written twice, for the JSON schema (Field) and for the one-line message.
ClockMHz = Annotated[float, Field(ge=1e-3, le=1e5), _ranged(1e-3, 1e5, " MHz", False)]
ArraySide = Annotated[int, Field(ge=1, le=65536), _ranged(1, 65536, " PEs", True)]
MacsPerCycle = Annotated[int, Field(ge=1, le=10**9), _ranged(1, 10**9, "", True)]
Lanes = Annotated[int, Field(ge=1, le=10**9), _ranged(1, 10**9, "", True)]
Arrays = Annotated[int, Field(ge=1, le=10**9), _ranged(1, 10**9, "", True)]
Bits = Annotated[int, Field(ge=1, le=64), _ranged(1, 64, " bits", True)]
AdcsPerArray = Annotated[int, Field(ge=1, le=65536), _ranged(1, 65536, "", True)]
BandwidthGBs = Annotated[float, Field(ge=1e-6, le=1e6), _ranged(1e-6, 1e6, " GB/s", False)]
EnergyPJ = Annotated[float, Field(ge=1e-6, le=1e6), _ranged(1e-6, 1e6, " pJ", False)]
EnergyOrZeroPJ = Annotated[float, Field(ge=0.0, le=1e6), _ranged(0.0, 1e6, " pJ", False)]
TimeNs = Annotated[float, Field(ge=1e-6, le=1e9), _ranged(1e-6, 1e9, " ns", False)]
TimeOrZeroNs = Annotated[float, Field(ge=0.0, le=1e9), _ranged(0.0, 1e9, " ns", False)]
SizeBytes = Annotated[int, Field(ge=1, le=10**15), _ranged(1, 10**15, " bytes", True)]
PowerW = Annotated[float, Field(ge=1e-6, le=1e4), _ranged(1e-6, 1e4, " W", False)]
PowerOrZeroW = Annotated[float, Field(ge=0.0, le=1e4), _ranged(0.0, 1e4, " W", False)]
AreaMM2 = Annotated[float, Field(ge=1e-3, le=1e5), _ranged(1e-3, 1e5, " mm²", False)]
ProcessNm = Annotated[float, Field(ge=1.0, le=1000.0), _ranged(1.0, 1000.0, " nm", False)]
Year = Annotated[int, Field(ge=1950, le=2100), _ranged(1950, 2100, "", True)]
Fraction = Annotated[float, Field(gt=0, le=1), _ranged(0.0, 1.0, " (above 0)", False)]
Threads = Annotated[int, Field(ge=1, le=4096), _ranged(1, 4096, " threads", True)]
Source = Annotated[str, Field(min_length=3, description="paper, datasheet or public table")]

# Precisions a MAC unit may support, by name; the cost model maps a layer's bit-width to one.
Precision = Literal["fp32", "fp16", "bf16", "int16", "int8", "int4", "int2", "binary"]
# A systolic array's dataflow: output, weight or input stationary (`hardware.systolic`).
Dataflow = Literal["os", "ws", "is"]


def _changes(changes: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in changes.items())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Crossbar(_Strict):
    """Analog matrix-vector multiply in memory arrays (ReRAM/PCM crossbars, SRAM bit cells).

    A weight of b bits spans ceil(b / bits_per_cell) adjacent cells of a row; an input of b bits
    enters bit-serially, dac_bits per step; each step reads every row of an array at once and
    converts each used column with the array's ADCs (Shafiee et al., "ISAAC", ISCA 2016). The
    compute's `clock_mhz` is the step rate (1 / the array's read cycle); a step lasts longer
    when an array's ADCs need more time to convert its used columns."""

    technology: Literal["reram", "pcm", "sram"] = Field(
        description="recorded for the reader: the energies and times below already reflect it"
    )
    rows: ArraySide
    cols: ArraySide
    arrays: Arrays = Field(description="arrays on the chip; weights beyond them are rewritten")
    bits_per_cell: Bits
    dac_bits: Bits
    adc_bits: Bits = Field(
        description="recorded for the reader: adc_energy_pj and adc_conversion_ns reflect it"
    )
    adcs_per_array: AdcsPerArray
    adc_conversion_ns: TimeNs
    read_energy_pj: EnergyOrZeroPJ = Field(description="array read per step, cells and drivers")
    dac_energy_pj: EnergyOrZeroPJ = Field(description="per driven row per step")
    adc_energy_pj: EnergyPJ = Field(description="per conversion")
    write_energy_pj_per_cell: EnergyOrZeroPJ
    write_ns_per_row: TimeOrZeroNs = Field(description="programming one row of one array")


class BaseCompute(_Strict, ABC):
    """What every compute engine states. Each engine type, a member of the `Compute` union,
    adds its own fields; how it costs a layer lives in `hardware/engines/` (`Engine`).

    A field of another engine type is refused (`rows` on a vector engine), and so is a
    missing one of this type, each in one line (`located`)."""

    described: ClassVar[str]  # the type in a message: "a systolic array"

    type: str
    clock_mhz: ClockMHz
    mac_energy_pj: dict[Precision, EnergyPJ] = Field(
        description="energy of one MAC (multiply + add, operands in registers) per precision"
    )
    mac_energy_includes: Literal["mac", "on-chip memory", "all memory"] = Field(
        "mac",
        description="what mac_energy_pj covers: the MAC alone (every memory level adds its "
        "own energy), or a measured power over the peak MAC rate that already includes the "
        "on-chip memories (their levels state 0 pJ/bit) or every memory (all levels 0)",
    )
    zero_skipping: bool = Field(False, description="skips MACs whose operand is zero")
    vector_lanes: Lanes | None = Field(
        None,
        description="element-wise operations per cycle; default: one per array column "
        "(systolic) or per MAC lane (vector); required for in-memory",
    )
    source: Source
    notes: str = ""

    @model_serializer(mode="wrap")
    def _in_file_order(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The type and the engine's own fields first, as the catalog files write them
        (pydantic puts the fields every engine shares first)."""
        data: dict[str, Any] = handler(self)
        own = ["type", *(key for key in type(self).model_fields if key not in SHARED)]
        return {key: data[key] for key in own if key in data} | data

    @property
    @abstractmethod
    def peak_macs_per_cycle(self) -> int:
        """MACs per cycle at the widest supported precision (the peak of `peak_ops_per_s`)."""

    def macs_per_cycle_at(self, precision: str) -> int:
        """Peak MACs per cycle at `precision`: the peak, unless the engine runs it faster."""
        return self.peak_macs_per_cycle

    @property
    def array(self) -> tuple[int, int, Dataflow] | None:
        """The systolic array a design varies (rows, cols, dataflow); None without one."""
        return None

    @property
    @abstractmethod
    def summary(self) -> str:
        """The engine in a few words for a table: "systolic 12x14 ws"."""

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.mac_energy_pj)

    @property
    def vector_ops_per_cycle(self) -> int:
        """Element-wise throughput: `vector_lanes`, else one lane per MAC."""
        return self.vector_lanes if self.vector_lanes is not None else self.peak_macs_per_cycle


SHARED = frozenset(BaseCompute.model_fields)


class SystolicCompute(BaseCompute):
    """A systolic array of rows x cols PEs with a dataflow (`hardware.systolic`)."""

    described = "a systolic array"

    type: Literal["systolic"]
    rows: ArraySide = Field(description="array rows (PEs)")
    cols: ArraySide = Field(description="array columns (PEs)")
    dataflow: Dataflow = Field(description="output, weight or input stationary")

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.rows * self.cols

    @property
    def array(self) -> tuple[int, int, Dataflow]:
        return self.rows, self.cols, self.dataflow

    @property
    def summary(self) -> str:
        return f"systolic {self.rows}x{self.cols} {self.dataflow}"

    @property
    def vector_ops_per_cycle(self) -> int:
        """`vector_lanes`, else one lane per array column: the post-processing units that
        drain the array."""
        return self.vector_lanes if self.vector_lanes is not None else self.cols


class VectorCompute(BaseCompute):
    """A vector (SIMD) engine of MACs per cycle at a sustained utilisation."""

    described = "a vector engine"

    type: Literal["vector"]
    macs_per_cycle: MacsPerCycle = Field(
        description="peak MACs per cycle at the widest supported precision"
    )
    macs_per_cycle_by_precision: dict[Precision, MacsPerCycle] = Field(
        default_factory=dict,
        description="peak MACs per cycle at precisions it runs faster than macs_per_cycle "
        "(int8 on tensor cores or VNNI, for one)",
    )
    utilization: Fraction = Field(1.0, description="fraction of peak sustained on dense layers")
    fixed_s_per_layer: float = Field(
        0.0,
        ge=0,
        le=0.01,
        description="seconds the runtime spends on each layer it runs besides the layer's "
        "compute and memory time (a kernel launch, a barrier between threads); added to the "
        "layer's latency, not overlapped with it",
    )

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.macs_per_cycle

    def macs_per_cycle_at(self, precision: str) -> int:
        rate = self.macs_per_cycle_by_precision.get(precision)  # type: ignore[call-overload]
        return int(rate) if rate is not None else self.macs_per_cycle

    @property
    def summary(self) -> str:
        return f"vector {self.macs_per_cycle} MAC/cycle"


class InMemoryCompute(BaseCompute):
    """Matrix-vector products in memory crossbars (`Crossbar`); element-wise work on
    digital lanes beside them."""

    described = "an in-memory engine"

    type: Literal["in-memory"]
    crossbar: Crossbar = Field(description="the arrays")
    vector_lanes: Lanes = Field(description="element-wise operations per cycle")

    @property
    def peak_macs_per_cycle(self) -> int:
        """One-cell weights, one-step inputs: the cell-level peak."""
        return self.crossbar.arrays * self.crossbar.rows * self.crossbar.cols

    @property
    def summary(self) -> str:
        xbar = self.crossbar
        return f"{xbar.arrays} {xbar.technology} crossbars of {xbar.rows}x{xbar.cols}"


class KernelTable(_Strict):
    """The timed microbenchmarks of one operator kind at one thread count (`edgegap
    calibrate`) and the base fitted to them (`hardware.kernels`): rows of the kind's features
    then seconds."""

    kind: Literal[
        "conv", "depthwise", "grouped", "matmul", "streamed_matmul", "elementwise", "activation",
        "affine", "movement", "pool", "reduction", "norm", "softmax",
    ]  # fmt: skip
    threads: Threads
    parameters: list[float]
    samples: list[list[float]] = Field(min_length=1)
    leave_one_out_median_error: float = Field(
        ge=0, description="median |error| of each sample predicted from the others"
    )

    @model_validator(mode="after")
    def _shapes(self) -> KernelTable:
        from edgegap.hardware import kernels

        expected = len(kernels.parameters_of(self.kind))
        if len(self.parameters) != expected:
            raise ValueError(f"{self.kind} needs {expected} parameters, got {len(self.parameters)}")
        width = len(kernels.features_of(self.kind)) + 1
        for row in self.samples:
            if len(row) != width or not all(v > 0 and math.isfinite(v) for v in row):
                raise ValueError(
                    f"each {self.kind} sample is {width} positive numbers (its features, then "
                    f"seconds), got {row[:8]}"
                )
        return self


class Dispatch(_Strict):
    """What the runtime spends around the operators at a thread count: once per run, and per
    operator (measured on chains of tiny operators)."""

    threads: Threads
    per_run_s: float = Field(ge=0, le=1)
    per_operator_s: float = Field(ge=0, le=1)


class CpuCompute(BaseCompute):
    """A CPU calibrated on itself (`edgegap calibrate`): each layer takes the time its
    operator kind took at shapes like its own (`KernelTable`), at `threads` threads."""

    described = "a calibrated CPU"

    type: Literal["cpu"]
    macs_per_cycle: MacsPerCycle = Field(
        description="the fastest matrix product timed, per cycle: the measured peak"
    )
    threads: Threads = Field(description="the thread count estimates run at")
    dispatch: list[Dispatch] = Field(min_length=1)
    kernels: list[KernelTable] = Field(min_length=1)

    @model_validator(mode="after")
    def _calibrated_at_threads(self) -> CpuCompute:
        kinds = {table.kind for table in self.kernels if table.threads == self.threads}
        missing = [k for k in ("conv", "depthwise", "grouped", "matmul", "elementwise")
                   if k not in kinds]  # fmt: skip
        if missing:
            raise ValueError(
                f"no {', '.join(missing)} kernels calibrated at {self.threads} thread(s): "
                "calibrate at that count (edgegap calibrate --threads)"
            )
        if not any(d.threads == self.threads for d in self.dispatch):
            raise ValueError(f"no dispatch cost calibrated at {self.threads} thread(s)")
        return self

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.macs_per_cycle

    @property
    def summary(self) -> str:
        return f"calibrated CPU, {self.threads} thread(s)"

    @property
    def calibrated_threads(self) -> tuple[int, ...]:
        return tuple(sorted({table.threads for table in self.kernels}))

    def tables(self) -> dict[str, tuple[list[float], list[list[float]]]]:
        """Kind -> (parameters, samples) at `threads`."""
        return {t.kind: (t.parameters, t.samples) for t in self.kernels
                if t.threads == self.threads}  # fmt: skip

    def dispatch_at(self) -> Dispatch:
        return next(d for d in self.dispatch if d.threads == self.threads)


class Calibration(_Strict):
    """Where a calibrated platform's numbers come from: the machine, the tool and the day."""

    tool: str
    date: str
    cpu: str
    # family, model and stepping ("family 25 model 17 stepping 1"): which design the CPU
    # named `cpu` is, where a name is shared by several; None in a calibration made before it
    # was recorded
    cpu_id: str | None = None
    flags: str
    onnxruntime: str
    threads: list[Threads]
    seed: int
    quick: bool
    passes: int = Field(1, ge=1)  # each microbenchmark's fastest pass is kept

    def made_on(self, cpu: CpuFeatures) -> bool:
        """Whether this calibration was made on a CPU like `cpu`: its name, and its family,
        model and stepping where both record them."""
        same_design = not (self.cpu_id and cpu.cpu_id) or self.cpu_id == cpu.cpu_id
        return self.cpu == cpu.model and same_design


# The engine types, told apart by `type`. A new engine is one more member here, and its
# cost model one module in hardware/engines/ (registered in engines.ENGINES).
Compute = Annotated[
    SystolicCompute | VectorCompute | InMemoryCompute | CpuCompute,
    Field(discriminator="type"),
]
ENGINE_TYPES: tuple[type[BaseCompute], ...] = get_args(get_args(Compute)[0])


# The roles of memory levels, innermost first: the order a platform lists them in.
ROLES = ("register", "array", "buffer", "offchip")


class MemoryLevel(_Strict):
    """One level of the hierarchy, innermost (register file) to outermost (DRAM): at most one
    register, one array and one offchip level, and any number of buffers between (a CPU's
    L1, L2 and L3; an MCU's SRAM inside its flash)."""

    name: str = Field(min_length=1)
    role: Literal["register", "array", "buffer", "offchip"] = Field(
        description="register file in a PE, inter-PE network, on-chip buffer (or cache; "
        "several, innermost first), or off-chip memory"
    )
    size_bytes: SizeBytes | None = Field(None, description="capacity; omit for off-chip DRAM")
    bandwidth_gb_s: BandwidthGBs | None = Field(
        None,
        description="sustainable bandwidth, GB/s (1e9 bytes/s); register files and inter-PE "
        "networks are built to feed every PE every cycle and may omit it",
    )
    peak_bandwidth_gb_s: BandwidthGBs | None = Field(
        None,
        description="the datasheet's peak, where bandwidth_gb_s is a sustained figure measured "
        "or fitted below it; a bandwidth-over-peak calculator divides by this",
    )
    caches_weights: bool = Field(
        False,
        description="a buffer that keeps the model's weights from one inference to the next "
        "when they fit beside the largest layer's activations (a compiler's parameter cache)",
    )
    read_only: bool = Field(
        False,
        description="storage written when the model is deployed and only read at run time "
        "(an MCU's flash): it holds weights, and the activations live in the level inside it",
    )
    energy_pj_per_bit: EnergyOrZeroPJ = Field(
        description="energy to read or write one bit; 0 where the compute energy already "
        "includes the access (an energy per event measured on the whole chip)"
    )
    source: Source
    notes: str = ""

    @model_validator(mode="after")
    def _bandwidth(self) -> MemoryLevel:
        if self.bandwidth_gb_s is None and self.role in ("buffer", "offchip"):
            raise ValueError(f"a {self.role} level needs bandwidth_gb_s")
        if (
            self.peak_bandwidth_gb_s is not None
            and self.bandwidth_gb_s is not None
            and self.peak_bandwidth_gb_s < self.bandwidth_gb_s
        ):
            raise ValueError(
                f"peak_bandwidth_gb_s ({self.peak_bandwidth_gb_s:g}) is below the sustained "
                f"bandwidth_gb_s ({self.bandwidth_gb_s:g}): a peak bounds what is sustained"
            )
        if self.caches_weights and self.role != "buffer":
            raise ValueError("only a buffer level caches weights")
        if self.read_only and self.role != "offchip":
            raise ValueError("only the outermost (offchip) level may be read_only")
        return self


class Fusion(_Strict):
    """Which layer fusions the platform's compiler performs (`edgegap.workload.fusion`):
    `batchnorm` (folded into the preceding convolution or linear layer), `relu` (ReLU,
    ReLU6, hardtanh, clamp applied before the producer's output is written), `activation`
    (any element-wise activation, ReLU's included), `add` (a residual add done by the
    producer of one of its operands)."""

    fuses: list[Rule] = Field(
        description="fusion rules the compiler applies; [] for an interpreter that runs every "
        "operator by itself"
    )
    source: Source
    notes: str = ""


DEFAULT_FUSION = Fusion(
    fuses=list(DEFAULT_RULES),
    source="edgegap's default for a platform that declares none: batch-norm folding and "
    "ReLU-type fusion, which every compiler in docs/cost-model.md (Fusion) performs",
)


def _tag(engine: type[BaseCompute]) -> str:
    tag: str = get_args(engine.model_fields["type"].annotation)[0]
    return tag


def located(error: ValidationError) -> tuple[tuple[int | str, ...], str]:
    """The first problem of a platform that failed validation, as where it is in the file
    and one line. Pydantic puts the engine type in a compute field's location
    (compute.systolic.rows); it is dropped, and an engine's missing fields, a field of
    another engine type and an unknown type say so."""
    errors = error.errors()
    first = errors[0]
    location, kind = tuple(first["loc"]), first["type"]
    message = first["msg"].removeprefix("Value error, ")
    tags = {_tag(engine): engine for engine in ENGINE_TYPES}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        given = f", got {first['ctx']['tag']!r}" if kind == "union_tag_invalid" else ""
        needed = "must be" if given else "required:"
        return (*location, "type"), f"{needed} one of {', '.join(tags)}{given}"
    if location[:1] == ("compute",) and len(location) > 1 and location[1] in tags:
        engine, within = tags[str(location[1])], location[:2]
        location = (location[0], *location[2:])
        if kind == "missing" and len(location) == 2:
            fields = [
                e["loc"][2:] for e in errors if e["type"] == "missing" and e["loc"][:2] == within
            ]
            names = ", ".join(str(field[0]) for field in fields if len(field) == 1)
            return location[:1], f"{engine.described} needs {names}"
        owners = [other for other in ENGINE_TYPES if location[-1] in other.model_fields]
        if kind == "extra_forbidden" and len(location) == 2 and owners:
            owner = owners[0]
            return location, (
                f"a field of {owner.described} (type: {_tag(owner)}), not of {engine.described}"
            )
    if kind == "extra_forbidden":
        message = "unknown key (check the spelling; see docs/platform.schema.json)"
    return location, message


class Platform(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    description: str
    kind: Literal["asic", "gpu", "cpu", "mcu", "npu", "fpga"]
    year: Year
    process_nm: ProcessNm
    area_mm2: AreaMM2 | None = Field(None, description="die or core area; omit if unpublished")
    power_budget_w: PowerW
    idle_power_w: PowerOrZeroW | None = Field(
        None,
        description="power drawn while powered and waiting between inferences (leakage and "
        "always-on parts), added to the energy per inference x rate; omit if unpublished "
        "(taken as 0, and the estimate says so)",
    )
    compute: Compute
    memory: list[MemoryLevel] = Field(min_length=1)
    fusion: Fusion = Field(
        DEFAULT_FUSION,
        description="the layer fusions its compiler performs; default batchnorm and relu",
    )
    calibration: Calibration | None = Field(
        None, description="where a calibrated platform's numbers were measured (edgegap calibrate)"
    )
    source: Source
    notes: str = ""

    @model_validator(mode="after")
    def _hierarchy(self) -> Platform:
        names = [level.name for level in self.memory]
        if len(set(names)) != len(names):
            raise ValueError(f"memory level names repeat: {names}")
        roles = [level.role for level in self.memory]
        singles = [role for role in roles if role != "buffer"]
        if len(set(singles)) != len(singles) or roles != sorted(roles, key=ROLES.index):
            raise ValueError(
                "memory levels go innermost first, at most one register, one array and one "
                f"offchip level around any number of buffers (register, array, buffer..., "
                f"offchip): got {roles}"
            )
        if any(level.size_bytes is None for level in self.memory[:-1]):
            raise ValueError("only the outermost memory level may omit size_bytes")
        included = self.compute.mac_energy_includes
        counted = [level.name for level in self.included_levels() if level.energy_pj_per_bit > 0]
        if counted:
            raise ValueError(
                f"compute.mac_energy_includes is '{included}', so the energy of "
                f"{', '.join(counted)} is already in the MAC energy: set their "
                "energy_pj_per_bit to 0 (or describe the MAC alone)"
            )
        if self.idle_power_w is not None and self.idle_power_w >= self.power_budget_w:
            raise ValueError(
                f"idle_power_w ({self.idle_power_w:g} W) must be below power_budget_w "
                f"({self.power_budget_w:g} W)"
            )
        return self

    @property
    def fuses(self) -> tuple[Rule, ...]:
        """The fusion rules the cost model applies (`Fusion`)."""
        return tuple(self.fusion.fuses)

    def without_fusion(self) -> Platform:
        """A copy whose compiler fuses nothing: every traced operator runs as its own layer
        (`--no-fuse`); whatever is derived from it (a bridge, a sweep's variants) keeps that."""
        none = Fusion(fuses=[], source="--no-fuse: every operator runs as its own layer")
        return self.model_copy(update={"fusion": none})

    def level(self, role: str) -> MemoryLevel | None:
        """The level of `role`; of several buffers the outermost, the one whose capacity
        decides off-chip traffic (what `Designs.buffer_bytes` varies and a bridge grows)."""
        return next((level for level in reversed(self.memory) if level.role == role), None)

    @property
    def buffers(self) -> list[MemoryLevel]:
        """The buffer levels, innermost first."""
        return [level for level in self.memory if level.role == "buffer"]

    def included_levels(self) -> list[MemoryLevel]:
        """The memory levels whose energy the MAC energy already includes
        (`mac_energy_includes`): none, the on-chip ones, or all."""
        included = self.compute.mac_energy_includes
        return [
            level for level in self.memory
            if included == "all memory" or (included == "on-chip memory" and
                                             level.role != "offchip")
        ]  # fmt: skip

    def with_compute(self, **changes: object) -> Platform:
        """A validated copy with compute fields changed (array shape, dataflow, clock, or the
        type: another type keeps only the fields every engine shares); a field changed to
        None takes its default. A change out of range (`--array 100000x4`) or a field the
        type lacks is a one-line `UserError`."""
        compute = self.compute.model_dump()
        if changes.get("type", self.compute.type) != self.compute.type:
            compute = {key: value for key, value in compute.items() if key in SHARED}
        compute = {key: value for key, value in (compute | changes).items() if value is not None}
        try:
            return Platform.model_validate(self.model_dump() | {"compute": compute})
        except ValidationError as error:
            location, message = located(error)
            field = ".".join(map(str, location)) or "compute"
            raise UserError(f"{self.name} with {_changes(changes)}: {field}: {message}") from None

    @property
    def peak_ops_per_s(self) -> float:
        """Peak operations per second, counting a MAC as two operations."""
        return OPS_PER_MAC * self.compute.peak_macs_per_cycle * self.compute.clock_mhz * 1e6

    @property
    def performance_density_gops_mm2(self) -> float | None:
        """Peak GOP/s per mm² of die (the paper's Fig. 3b measure); None without an area."""
        return self.peak_ops_per_s / 1e9 / self.area_mm2 if self.area_mm2 else None

    @property
    def efficiency_gops_w(self) -> float:
        """Peak GOP/s per watt of the power budget."""
        return self.peak_ops_per_s / 1e9 / self.power_budget_w

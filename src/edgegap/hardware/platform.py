"""A hardware platform is data: a YAML file validated by these pydantic models.

Every number carries its provenance: each section (the chip, its compute, each memory level)
has a `source` citing the paper, datasheet or public table its numbers come from, and
`notes` saying how a number was derived where it was not read directly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from edgegap.errors import UserError
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
Source = Annotated[str, Field(min_length=3, description="paper, datasheet or public table")]

# Precisions a MAC unit may support, by name; the cost model maps a layer's bit-width to one.
Precision = Literal["fp32", "fp16", "bf16", "int16", "int8", "int4", "int2", "binary"]


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


class Compute(_Strict):
    """The MAC engine: a systolic array of rows x cols PEs with a dataflow, a vector engine, or
    in-memory crossbars."""

    type: Literal["systolic", "vector", "in-memory"]
    rows: ArraySide | None = Field(None, description="systolic array rows (PEs)")
    cols: ArraySide | None = Field(None, description="systolic array columns (PEs)")
    dataflow: Literal["os", "ws", "is"] | None = Field(
        None, description="output, weight or input stationary (systolic only)"
    )
    macs_per_cycle: MacsPerCycle | None = Field(
        None, description="peak MACs per cycle at the widest supported precision (vector only)"
    )
    macs_per_cycle_by_precision: dict[Precision, MacsPerCycle] = Field(
        default_factory=dict,
        description="peak MACs per cycle of a vector engine at precisions it runs faster than "
        "macs_per_cycle (int8 on tensor cores or VNNI, for one)",
    )
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
    utilization: Fraction = Field(
        1.0, description="fraction of peak a vector engine sustains on dense layers"
    )
    zero_skipping: bool = Field(False, description="skips MACs whose operand is zero")
    crossbar: Crossbar | None = Field(None, description="the arrays (in-memory only)")
    vector_lanes: Lanes | None = Field(
        None,
        description="element-wise operations per cycle; default: one per array column "
        "(systolic) or per MAC lane (vector); required for in-memory",
    )
    source: Source
    notes: str = ""

    @model_validator(mode="after")
    def _complete(self) -> Compute:
        if self.type == "systolic":
            missing = [f for f in ("rows", "cols", "dataflow") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a systolic array needs {', '.join(missing)}")
        elif self.type == "vector" and self.macs_per_cycle is None:
            raise ValueError("a vector engine needs macs_per_cycle")
        elif self.type == "in-memory" and (self.crossbar is None or self.vector_lanes is None):
            raise ValueError("an in-memory engine needs crossbar and vector_lanes")
        return self

    @property
    def peak_macs_per_cycle(self) -> int:
        if self.type == "systolic":
            assert self.rows is not None and self.cols is not None
            return self.rows * self.cols
        if self.type == "in-memory":  # one-cell weights, one-step inputs: the cell-level peak
            assert self.crossbar is not None
            return self.crossbar.arrays * self.crossbar.rows * self.crossbar.cols
        assert self.macs_per_cycle is not None
        return self.macs_per_cycle

    def macs_per_cycle_at(self, precision: str) -> int:
        """A vector engine's peak MACs per cycle at `precision`."""
        rate = self.macs_per_cycle_by_precision.get(precision)  # type: ignore[call-overload]
        return int(rate) if rate is not None else self.peak_macs_per_cycle

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.mac_energy_pj)

    @property
    def vector_ops_per_cycle(self) -> int:
        """Element-wise throughput: `vector_lanes`, else one lane per array column (the
        post-processing units that drain a systolic array), or the vector engine's MAC lanes."""
        if self.vector_lanes is not None:
            return self.vector_lanes
        if self.type == "systolic":
            assert self.cols is not None
            return self.cols
        return self.peak_macs_per_cycle


class MemoryLevel(_Strict):
    """One level of the hierarchy, innermost (register file) to outermost (DRAM)."""

    name: str = Field(min_length=1)
    role: Literal["register", "array", "buffer", "offchip"] = Field(
        description="register file in a PE, inter-PE network, on-chip buffer, or off-chip memory"
    )
    size_bytes: SizeBytes | None = Field(None, description="capacity; omit for off-chip DRAM")
    bandwidth_gb_s: BandwidthGBs | None = Field(
        None,
        description="sustainable bandwidth, GB/s (1e9 bytes/s); register files and inter-PE "
        "networks are built to feed every PE every cycle and may omit it",
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
    source: Source
    notes: str = ""

    @model_validator(mode="after")
    def _hierarchy(self) -> Platform:
        names = [level.name for level in self.memory]
        if len(set(names)) != len(names):
            raise ValueError(f"memory level names repeat: {names}")
        roles = [level.role for level in self.memory]
        if len(set(roles)) != len(roles):
            raise ValueError(
                f"one memory level per role (register, array, buffer, offchip): {roles}"
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
        return next((level for level in self.memory if level.role == role), None)

    def included_levels(self) -> list[MemoryLevel]:
        """The memory levels whose energy the MAC energy already includes
        (`Compute.mac_energy_includes`): none, the on-chip ones, or all."""
        included = self.compute.mac_energy_includes
        return [
            level for level in self.memory
            if included == "all memory" or (included == "on-chip memory" and
                                             level.role != "offchip")
        ]  # fmt: skip

    def with_compute(self, **changes: object) -> Platform:
        """A validated copy with compute fields changed (array shape, dataflow, clock); a
        change out of range (`--array 100000x4`) is a one-line `UserError`."""
        compute = self.compute.model_dump() | changes
        try:
            return Platform.model_validate(self.model_dump() | {"compute": compute})
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(map(str, first["loc"])) or "compute"
            message = first["msg"].removeprefix("Value error, ")
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

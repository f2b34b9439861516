"""Validate edgegap's cost model against published measurements of real accelerators.

The cost model (`edgegap.hardware.estimate`) is analytical: systolic folding, a roofline over
memory levels and per-access energies taken from the literature. Nothing in it was fitted to a
chip, so the only evidence that its numbers mean anything is a comparison with chips that were
built and measured. This script runs the networks those papers ran, on the catalog platform as
shipped (no tuning), and writes published value, estimate and error to docs/validation.md.

Cases (each cited in full in the output):
- Eyeriss (65 nm silicon): AlexNet CONV1-5 at batch 4 and VGG-16 CONV layers at batch 3,
  throughput, chip power (DRAM excluded, as measured) and DRAM traffic per batch;
- NVDLA nv_small: ResNet-50 int8 frames/s from NVIDIA's sizing table, itself an estimate;
- Coral Edge TPU (silicon, vendor-measured): MobileNet v2 time per inference.

Goal: throughput and power within 30% of the published value. Errors are
(estimate - published) / published.

Run: .venv/bin/python benchmarks/validate_silicon.py
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import edgegap
from edgegap.atomic import write_text
from edgegap.hardware import Cost, Platform, estimate, load_platform
from edgegap.workload.fusion import fuse
from edgegap.workload.layer import Workload

DOC = Path(__file__).resolve().parent.parent / "docs" / "validation.md"
GOAL = 0.30


# ------------------------------------------------------------------------------ the split
# Declared, and committed, before the held-out rows were compared (the commit that adds this
# table precedes the one that adds their comparison). A feasibility run of the new builders
# (that each one profiles and estimates) preceded this commit; no comparison table had been
# made and no builder was chosen after it.
SPLIT_RULE = (
    "A row is in-sample if it influenced a catalog number or a cost-model mechanism: a number "
    "taken from it, a cross-check against it written into the catalog, or a change made after "
    "its error was seen. Every other row is held out. A catalog or cost-model change made "
    "after seeing a held-out row moves that row to in-sample. Held-out rows that were seen "
    "before this declaration (shown in docs/validation.md, or quoted in issue 13) without any "
    "change being made are held out but not blind, and say so."
)


@dataclass(frozen=True)
class Declared:
    """One row of a published table: what runs for it, and whether it may set the catalog."""

    chip: str  # catalog platform
    case: str  # short label, the `case` of residuals.csv
    split: str  # "in-sample" | "held-out" | "not built"
    builder: str  # the network that runs for it (or why none does)
    why: str


DECLARED = (
    Declared("eyeriss", "alexnet-conv", "in-sample",
             "AlexNet CONV1-5 (grouped as Krizhevsky et al.), batch 4, 227x227, 16 bit",
             "the catalog's power_budget_w (278 mW) is this row's measured power, its 200 MHz "
             "core and 60 MHz link clocks are this measurement's conditions, and the catalog's "
             "first version (accdf1e) carried a cross-check against it (36.4 frames/s, 0.29 W)"),
    Declared("eyeriss", "vgg16-conv", "held-out",
             "VGG-16 configuration D, 13 CONV layers, batch 3, 224x224, 16 bit",
             "no catalog number comes from it; shown in docs/validation.md since 4c7c86f "
             "(+80% throughput) with no change made after it: held out, not blind"),
    Declared("nvdla-small", "resnet50-64mac", "in-sample",
             "torchvision ResNet-50, 224x224, int8, on nv_small as catalogued (8 x 8)",
             "nv_small's DRAM bandwidth (1 GB/s), buffer (128 KB) and area (0.91 mm^2) are "
             "this row's, and the catalog's first version carried a cross-check against its "
             "7.3 frames/s (7.7)"),
    *(Declared("nvdla-small", f"resnet50-{macs}mac", "held-out",
               f"torchvision ResNet-50, 224x224, int8, on nv_small with the row's {macs} MACs, "
               "buffer and DRAM bandwidth (array shape: benchmark `NVDLA_ROWS`)",
               "no catalog number comes from it; issue 13 quoted these rows' errors (+9% at "
               "32 MACs to -32% at 2048) before this declaration, with no change made after: "
               "held out, not blind")
      for macs in (32, 128, 256, 512, 1024, 2048)),
    Declared("edge-tpu", "mobilenet_v2", "in-sample", "torchvision mobilenet_v2, 224x224",
             "two mechanisms were added after its error was seen: the parameter cache "
             "(6db0754, -86% -> -79%) and block-diagonal depthwise packing (8ab2334, -79% -> "
             "+11%)"),
    Declared("edge-tpu", "inception_v1", "held-out",
             "torchvision googlenet (TF-slim's Inception v1 layout), no aux heads, 224x224",
             "no catalog number comes from it; issue 13 quoted its error (googlenet -42%) "
             "before this declaration: held out, not blind"),
    Declared("edge-tpu", "squeezenet", "held-out",
             "torchvision squeezenet1_0 (the SqueezeNet paper's v1.0; the table names no "
             "version), 224x224",
             "no catalog number comes from it; issue 13 quoted its errors (-42% / -70%, two "
             "versions) before this declaration: held out, not blind"),
    *(Declared("edge-tpu", case, "held-out", builder, "no catalog number comes from it")
      for case, builder in (
          ("densenet", "torchvision densenet121 (the table says DenseNet; 121 assumed), "
                       "224x224"),
          ("inception_v4", "timm inception_v4, 299x299"),
          ("inception_resnet_v2", "timm inception_resnet_v2, 299x299"),
          ("mobilenet_v1", "timm mobilenetv1_100 (width 1.0), 224x224"),
          ("resnet50_v1", "torchvision resnet50, 299x299"),
          ("resnet50_v2", "timm resnetv2_50 (pre-activation), 299x299"),
          ("resnet152_v2", "timm resnetv2_152 (pre-activation), 299x299"),
          ("vgg16", "torchvision vgg16, 224x224"),
          ("vgg19", "torchvision vgg19, 224x224"),
          ("efficientnet_edgetpu_s", "timm efficientnet_es, 224x224 (the table gives no "
                                     "size: tensorflow/tpu efficientnet_edgetpu_builder, S 224)"),
          ("efficientnet_edgetpu_m", "timm efficientnet_em, 240x240 (the same builder: M 240)"),
      )),
    *(Declared("edge-tpu", case, "not built", why, "")
      for case, why in (
          ("unet_mv2", "U-Net on a MobileNet v2 encoder at 128x128: the decoder (its widths, "
                       "upsampling operators, skip taps) is not given by the table"),
          ("deeplab_v3", "DeepLab v3 at 513x513: backbone, output stride and ASPP branches "
                         "are not given by the table, and the Dev Board's 241 ms against the "
                         "USB's 52 ms shows host-CPU operators the cost model does not run"),
          ("mobilenet_v1_ssd", "SSD detector: its box decoding and non-maximum suppression "
                               "run on the host CPU (TensorFlow Lite's detection post-process), "
                               "and the table's 224x224 input is not the 300x300 of Coral's "
                               "SSD models, so the network measured is not known"),
          ("mobilenet_v2_ssd", "as MobileNet v1 SSD"),
          ("efficientnet_edgetpu_l", "its row is cut off in every stored copy of the page "
                                     "read here, so no published value"),
      )),
)  # fmt: skip
PRIMER = (
    'NVDLA Primer (github.com/nvdla/doc doc/primer.rst, nvdla.org/primer.html), table "Example '
    'Area and Performance with NVDLA": "estimates for NVDLA configurations optimized for the '
    'popular ResNet-50 neural network", "Power and performance in the following table are '
    'shown for a 1GHz frequency", no on-chip SRAM'
)


@dataclass(frozen=True)
class NvdlaRow:
    """A row of the Primer's table and the array shape it runs on (Atomic-C x Atomic-K)."""

    macs: int
    cbuf_kb: int
    dram_gb_s: float
    area_28nm_mm2: float
    fps: float
    power_16nm_mw: tuple[int, int]  # peak, average
    atomic_c: int
    atomic_k: int
    shape_source: str


SPEC = "nvdla/hw spec/defs/{}.spec (MAC_ATOMIC_C_SIZE_{}, MAC_ATOMIC_K_SIZE_{})"
NVDLA_ROWS = (
    NvdlaRow(2048, 512, 20, 5.5, 269, (766, 291), 64, 32,
             "nv_large: nvdla/doc doc/hw/v2/scalability.rst (NVDLA_MAC_ATOMIC_C_SIZE 64, "
             "NVDLA_MAC_ATOMIC_K_SIZE 32) and nvdla/hw spec/defs/nv_large.spec"),
    NvdlaRow(1024, 256, 15, 3.0, 153, (375, 143), 64, 16,
             SPEC.format("nv_medium_1024_full", 64, 16)),
    NvdlaRow(512, 256, 10, 2.3, 93, (210, 80), 32, 16, SPEC.format("nv_medium_512", 32, 16)),
    NvdlaRow(256, 256, 5, 1.7, 46, (135, 48), 32, 8, SPEC.format("nv_small_256", 32, 8)),
    NvdlaRow(128, 256, 2, 1.4, 20, (82, 31), 16, 8,
             "derived (no NVDLA spec has 128 MACs): the released specs grow Atomic-C first at "
             "Atomic-K 8 (nv_small 8 x 8, nv_small_256 32 x 8), so 16 x 8"),
    NvdlaRow(64, 128, 1, 0.91, 7.3, (55, 21), 8, 8,
             "nv_small: doc/hw/v2/scalability.rst (8 x 8), the catalog's `nvdla-small`"),
    NvdlaRow(32, 128, 0.5, 0.85, 3.6, (45, 17), 8, 4,
             "derived (no NVDLA spec has 32 MACs): Atomic-C kept at nv_small's 8, the width of "
             "its 8-byte memory atom (NVDLA_MEMORY_ATOMIC_SIZE 8), so Atomic-K 4"),
)  # fmt: skip
# How a variant of `nvdla-small` is derived from a row (everything else as catalogued):
# rows x cols = Atomic-C x Atomic-K; convolution buffer = the row's KB; DRAM = the row's GB/s;
# the catalog's own derivations re-applied to the new sizes: register file = one weight atom per
# MAC cell + the feature atom + a 32-bit partial sum per cell (C*K + C + 4K bytes), register
# bandwidth = 3 operand bytes per MAC per cycle, buffer bandwidth = a feature atom and a weight
# atom per cycle (2 x Atomic-C bytes), buffer energy = Horowitz's 32 KB / 1 MB log-log
# interpolation at the row's size x 28/45; area = the row's 28 nm figure. Power is not compared:
# the table gives it at 16 nm and the catalog's energies are 28 nm.

CORAL = (
    'Coral, "Edge TPU performance benchmarks" (coral.ai/docs/edgetpu/benchmarks), Table 1 '
    '"Time per inference, in milliseconds (ms)": "Desktop CPU + USB Accelerator (USB 3.0) with '
    'Edge TPU" and "Dev Board with Edge TPU" columns, TensorFlow Lite models, C++ benchmark, '
    '"the time required to execute the model only"'
)
# case -> (the table's model name, input side, USB Accelerator ms, Dev Board ms)
CORAL_TABLE = {
    "unet_mv2": ("Unet Mv2 (128x128)", 128, 3.3, 5.7),
    "deeplab_v3": ("DeepLab V3 (513x513)", 513, 52, 241),
    "densenet": ("DenseNet (224x224)", 224, 20, 25),
    "inception_v1": ("Inception v1 (224x224)", 224, 3.4, 4.1),
    "inception_v4": ("Inception v4 (299x299)", 299, 85, 102),
    "inception_resnet_v2": ("Inception-ResNet V2 (299x299)", 299, 57, 69),
    "mobilenet_v1": ("MobileNet v1 (224x224)", 224, 2.4, 2.4),
    "mobilenet_v2": ("MobileNet v2 (224x224)", 224, 2.6, 2.6),
    "mobilenet_v1_ssd": ("MobileNet v1 SSD (224x224)", 224, 6.5, 11),
    "mobilenet_v2_ssd": ("MobileNet v2 SSD (224x224)", 224, 7.2, 14),
    "resnet50_v1": ("ResNet-50 V1 (299x299)", 299, 49, 56),
    "resnet50_v2": ("ResNet-50 V2 (299x299)", 299, 50, 59),
    "resnet152_v2": ("ResNet-152 V2 (299x299)", 299, 128, 151),
    "squeezenet": ("SqueezeNet (224x224)", 224, 2.1, 2),
    "vgg16": ("VGG16 (224x224)", 224, 296, 343),
    "vgg19": ("VGG19 (224x224)", 224, 308, 357),
    "efficientnet_edgetpu_s": ("EfficientNet-EdgeTpu-S", 224, 5.1, 5.5),
    "efficientnet_edgetpu_m": ("EfficientNet-EdgeTpu-M", 240, 8.7, 10.6),
}

# Coral's Dev Board column is the same chip on PCIe Gen2 x1 (0.5 GB/s, as the catalog's host
# link): the same estimate. It is shown beside the USB column, not counted, so that no model
# counts twice.


# ------------------------------------------------------------------------------ workloads
def alexnet_convs() -> nn.Module:
    """AlexNet's five CONV layers as Krizhevsky et al. 2012 (and Eyeriss) ran them: grouped
    conv2/4/5 and the two max-pools that set the sizes of conv2 and conv3's inputs."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(),
    )  # fmt: skip


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def vgg16_convs() -> nn.Module:
    """VGG-16's 13 CONV layers (Simonyan and Zisserman, configuration D) with their pools."""
    layers: list[nn.Module] = []
    channels = 3
    for width in VGG16:
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            assert isinstance(width, int)
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
            channels = width
    return nn.Sequential(*layers)


def convs_only(builder: Callable[[], nn.Module], shape: tuple[int, ...]) -> Workload:
    """Profile at 16 bits (`float16` bytes; the platform runs them as int16) and keep only
    the CONV layers: Eyeriss applies ReLU in a module on the way to DRAM, has no pooling unit
    (JSSC Sec. III-A: PE array, GLB, RLC codec, ReLU), and its measurements cover CONV alone."""
    with torch.device("meta"):
        model = builder()
    workload = edgegap.profile(model, shape, dtype="float16", name=builder.__name__)
    convs = tuple(layer for layer in workload.layers if layer.kind == "conv")
    return Workload(workload.model, shape, convs, workload.peak_activation_bytes)


# ------------------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    title: str
    platform: str
    workload: Callable[[], Workload]
    evidence: str
    source: str
    fps: float
    chip_power_w: float | None = None  # measured chip power, DRAM excluded
    dram_mb: float | None = None  # off-chip traffic per batch, 1e6 bytes
    macs_per_image: float | None = None  # what the paper says the network costs
    processing_ms: float | None = None  # latency with DRAM traffic hidden, per batch
    buffer_mb: float | None = None  # on-chip buffer accesses per batch, 1e6 bytes
    assumptions: str = ""


EYERISS = (
    'Y.-H. Chen, T. Krishna, J. S. Emer, V. Sze, "Eyeriss: An Energy-Efficient Reconfigurable '
    'Accelerator for Deep Convolutional Neural Networks", IEEE JSSC 52(1):127-138, 2017'
)
EYERISS_ASSUMPTIONS = (
    "profiled with dtype float16 (16-bit bytes, run at the platform's int16), CONV layers "
    "only; catalog `eyeriss`: row-stationary modelled as a 12 x 14 weight-stationary systolic "
    "array (no ramp-up of processing passes, no idle PEs); 200 MHz; DRAM link 64 b x 60 MHz = "
    "0.48 GB/s, overlapped with compute (the chip stalls during DRAM transfers, JSSC "
    "Sec. VI-A); no run-length compression; energies are Horowitz's 45 nm MAC scaled to 65 nm "
    "x the ISCA 2016 ratios (RF 1x, inter-PE 2x, buffer 6x, DRAM 200x), two inter-PE hops per "
    "MAC; no clock-tree or control power. The chip's own split (JSSC Sec. VI-A, Fig. 16, "
    "post-layout simulation of CONV1 and CONV5): ALUs under 10%, spads + GLB + NoC up to 45%, "
    "spads the largest after the clock tree"
)
CASES = (
    Case(
        title="Eyeriss, AlexNet CONV1-5, batch 4, 16 bit, 200 MHz, 1 V",
        platform="eyeriss",
        workload=lambda: convs_only(alexnet_convs, (4, 3, 227, 227)),
        evidence="silicon (measured)",
        source=f"{EYERISS}: Sec. VI-A and Table V (34.7 frames/s, 278 mW, 15.4 MB DRAM per "
        "batch of 4; core/link clocks 200/60 MHz); 666 M MACs per image from Chen et al., "
        "ISSCC 2016, paper 14.5. Table V is an image in the copies read here: its 103.5 ms "
        "processing latency (DRAM overlapped; 115.3 ms measured) and 208.5 MB of global-buffer "
        "accesses are as transcribed from it in a reading note of the paper, and 115.3 ms "
        "agrees with 4 frames / 34.7 frames/s",
        fps=34.7,
        chip_power_w=0.278,
        dram_mb=15.4,
        macs_per_image=666e6,
        processing_ms=103.5,
        buffer_mb=208.5,
        assumptions=EYERISS_ASSUMPTIONS,
    ),
    Case(
        title="Eyeriss, VGG-16 CONV layers, batch 3, 16 bit, 200 MHz, 1 V",
        platform="eyeriss",
        workload=lambda: convs_only(vgg16_convs, (3, 3, 224, 224)),
        evidence="silicon (measured)",
        source=f"{EYERISS}: abstract, Sec. VI-B and Table VI (0.7 frames/s, 236 mW, 321.1 MB "
        "DRAM per batch of 3); 15.3 G MACs per image from ISSCC 2016, paper 14.5",
        fps=0.7,
        chip_power_w=0.236,
        dram_mb=321.1,
        macs_per_image=15.3e9,
        assumptions=EYERISS_ASSUMPTIONS,
    ),
    Case(
        title="NVDLA nv_small (64 MACs, 128 KB CBUF, 1 GB/s), ResNet-50, batch 1, int8",
        platform="nvdla-small",
        workload=lambda: edgegap.profile("resnet50", (1, 3, 224, 224), dtype="int8"),
        evidence="NVIDIA's performance estimate (not silicon, not FPGA)",
        source='NVDLA Primer (nvdla.org, github.com/nvdla/doc doc/primer.rst), table "Example '
        'Area and Performance with NVDLA", row 64 MACs / 128 KB / 1 GB/s / 0.91 mm^2: 7.3 int8 '
        'ResNet-50 frames/s, described as "estimates for NVDLA configurations"; the estimator '
        "is nvdla/hw perf/NVDLA_OpenSource_Performance.xlsx (1000 MHz default clock per "
        "nvdla/hw issue #17); no power published",
        fps=7.3,
        assumptions="catalog `nvdla-small`: 8 x 8 weight-stationary array at 1 GHz (clock an "
        "estimate: NVDLA publishes none); 128 KB buffer at 16 GB/s; DRAM 1 GB/s; whole "
        "torchvision graph, fused as the catalog's `fusion` declares (batch norms folded into "
        "their convolutions, ReLUs and residual adds done by the SDP on the convolution's "
        "output); the max pool and the average pool run as layers of their own",
    ),
    Case(
        title="Coral Edge TPU (USB Accelerator), MobileNet v2 224x224, batch 1, int8",
        platform="edge-tpu",
        workload=lambda: edgegap.profile("mobilenet_v2", (1, 3, 224, 224), dtype="int8"),
        evidence="silicon (vendor-measured latency)",
        source='Coral, "Edge TPU performance benchmarks" (coral.ai/docs/edgetpu/benchmarks), '
        "Table 1, MobileNet v2 (224x224), desktop CPU + USB Accelerator (USB 3.0): 2.6 ms per "
        "inference (= 385 inferences/s); the 2 W in Coral's datasheet is peak, not a "
        "measurement on this model, so no power is compared",
        fps=1 / 2.6e-3,
        assumptions="catalog `edge-tpu`: 64 x 64 output-stationary array at 488 MHz (array size "
        "from Boroumand et al., PACT 2021, clock derived from 4 TOPS); 8 MB SRAM at 62.5 GB/s; "
        "host USB 3.0 at 0.5 GB/s as off-chip level; MobileNetV2's int8 weights fit the SRAM, "
        "which caches them across inferences, so only the first inference loads them; "
        "depthwise channels packed 64 at a time on the block diagonal of the array; batch "
        "norms folded and ReLU6s fused as TensorFlow Lite does (the catalog's `fusion`), "
        "residual adds as layers of their own; the input image and the output cross USB "
        "unmodelled (activations stay in the SRAM, so no off-chip traffic)",
    ),
)


NOT_COMPARED = (
    'Not compared: `tpu-v1`. Jouppi et al., "In-Datacenter Performance Analysis of a Tensor '
    'Processing Unit", ISCA 2017, measured six Google production networks (MLP0/1, LSTM0/1, '
    "CNN0/1) that the paper describes only by layer counts, weights and operations per weight "
    "byte: no standard network with a published TPU v1 throughput could be rebuilt here."
)


# ------------------------------------------------------------------------------ measuring
@dataclass(frozen=True)
class Result:
    case: Case
    workload: Workload
    hardware: Platform
    cost: Cost

    @property
    def batch(self) -> int:
        return self.workload.input_shape[0]

    @property
    def macs_per_image(self) -> float:
        return self.workload.totals.macs / self.batch

    def traffic(self, role: str) -> int:
        names = [level.name for level in self.hardware.memory if level.role == role]
        return sum(layer.traffic_bytes[name] for layer in self.cost.layers for name in names)

    @property
    def chip_energy_j(self) -> float:
        offchip = [level.name for level in self.hardware.memory if level.role == "offchip"]
        breakdown = self.cost.totals.energy_breakdown
        return self.cost.totals.energy_j - sum(breakdown.memory[name] for name in offchip)

    @property
    def chip_power_w(self) -> float:
        return self.chip_energy_j / self.cost.totals.latency_s

    @property
    def compute_s(self) -> float:
        """Latency if every memory level kept up: compute cycles at the clock."""
        return self.cost.totals.cycles / (self.hardware.compute.clock_mhz * 1e6)

    def share(self, keep: Callable[[int], bool]) -> float:
        """Fraction of the latency spent in the layers (by index) that `keep` selects."""
        seconds = sum(cost.latency_s for i, cost in enumerate(self.cost.layers) if keep(i))
        return seconds / self.cost.totals.latency_s


def run(case: Case) -> Result:
    """The case's workload as the platform's compiler fuses it (`Platform.fusion`), so that
    the per-layer findings name the layers the cost model ran."""
    hardware = load_platform(case.platform)
    workload = fuse(case.workload(), hardware.fuses)
    return Result(case, workload, hardware, estimate(workload, hardware))


def error(estimate_value: float, published: float) -> float:
    return (estimate_value - published) / published


def bound_share(cost: Cost) -> str:
    """Share of the latency each limiter (compute or a memory level) sets."""
    share: dict[str, float] = {}
    for layer in cost.layers:
        limiter = layer.limiting_level or "compute"
        share[limiter] = share.get(limiter, 0.0) + layer.latency_s
    total = cost.totals.latency_s
    ordered = sorted(share.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {seconds / total:.0%}" for name, seconds in ordered)


def rows(result: Result) -> list[list[str]]:
    case, totals = result.case, result.cost.totals

    def row(metric: str, published: float | None, value: float, fmt: str, goal: bool) -> list[str]:
        if published is None:
            return [metric, "not published", f"{value:{fmt}}", "", ""]
        err = error(value, published)
        verdict = ("meets" if abs(err) <= GOAL else "misses") if goal else "(diagnostic)"
        return [metric, f"{published:{fmt}}", f"{value:{fmt}}", f"{err:+.0%}", verdict]

    fps = totals.throughput_per_s
    out = [
        row("throughput (frames/s)", case.fps, fps, ".3g", True),
        row("chip power, DRAM excluded (W)", case.chip_power_w, result.chip_power_w, ".3f", True),
    ]
    if case.chip_power_w is not None:
        published_mj = case.chip_power_w / case.fps * 1e3
        estimate_mj = result.chip_energy_j / result.batch * 1e3
        out.append(row("chip energy per frame (mJ, published = P / fps)", published_mj,
                       estimate_mj, ".3g", False))  # fmt: skip
    out.append(row("DRAM traffic per batch (MB)", case.dram_mb, result.traffic("offchip") / 1e6,
                   ".4g", False))  # fmt: skip
    if case.processing_ms is not None:
        out.append(row("compute-only latency, memory hidden (ms per batch)", case.processing_ms,
                       result.compute_s * 1e3, ".4g", False))  # fmt: skip
    if case.buffer_mb is not None:
        out.append(row("global-buffer traffic per batch (MB)", case.buffer_mb,
                       result.traffic("buffer") / 1e6, ".4g", False))  # fmt: skip
    return out


def verdict(result: Result) -> str:
    case = result.case
    checks = {"throughput": error(result.cost.totals.throughput_per_s, case.fps)}
    if case.chip_power_w is not None:
        checks["power"] = error(result.chip_power_w, case.chip_power_w)
    parts = [f"{name} {err:+.0%}" for name, err in checks.items()]
    met = all(abs(err) <= GOAL for err in checks.values())
    unpublished = "" if "power" in checks else "; no power published"
    return f"**{'meets' if met else 'misses'} the goal** ({', '.join(parts)}{unpublished})"


def findings(result: Result) -> list[str]:
    """Where the estimate's time and energy go, and what the diagnostic rows imply."""
    case, layers = result.case, result.workload.layers
    breakdown = result.cost.totals.energy_breakdown
    offchip = {level.name for level in result.hardware.memory if level.role == "offchip"}
    chip = [("compute", k, v) for k, v in breakdown.compute.items() if v > 0]
    chip += [("memory", k, v) for k, v in breakdown.memory.items() if v > 0 and k not in offchip]
    chip_energy = result.chip_energy_j
    energy = ", ".join(
        f"{breakdown.label(namespace, name)} {value / chip_energy:.0%}"
        for namespace, name, value in sorted(chip, key=lambda item: -item[2])
        if value / chip_energy >= 0.01
    )
    out = [
        f"Latency {result.cost.totals.latency_s * 1e3:.4g} ms per batch of {result.batch}, set by "
        f"{bound_share(result.cost)}; chip energy: {energy}.",
    ]
    grouped = result.share(lambda i: any(g.groups > 1 and g.n == 1 for g in layers[i].gemms))
    if grouped:
        out.append(f"Depthwise convolutions take {grouped:.0%} of the latency.")
    non_mac = result.share(lambda i: not layers[i].gemms)
    if non_mac:
        out.append(
            f"Layers without MACs (pools, and the batch norms, activations and adds the "
            f"platform does not fuse) take {non_mac:.0%} of the latency; without them the "
            f"estimate would be "
            f"{result.cost.totals.throughput_per_s / (1 - non_mac):.3g} frames/s."
        )
    fps = result.cost.totals.throughput_per_s
    dram_ratio = result.traffic("offchip") / 1e6 / case.dram_mb if case.dram_mb else 1.0
    faster = case.processing_ms is not None and result.compute_s * 1e3 < case.processing_ms
    if abs(error(fps, case.fps)) <= GOAL and dram_ratio > 2 and faster:
        out.append(
            f"The throughput agrees although the estimate moves {dram_ratio:.1f}x the published "
            "DRAM traffic and its compute alone is faster than the chip's processing: the "
            "agreement is a cancellation of errors, not a confirmation."
        )
    if case.chip_power_w is not None:
        energy_err = error(result.chip_energy_j / result.batch, case.chip_power_w / case.fps)
        if abs(error(result.chip_power_w, case.chip_power_w)) <= GOAL < abs(energy_err):
            out.append(
                f"Power agrees only because energy ({energy_err:+.0%} per frame) and latency "
                "are both off in the same direction."
            )
    return out


# ------------------------------------------------------------------------------ reporting
def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def report(results: list[Result]) -> str:
    header = ["case", "metric", "published", "estimate", "error", "goal (±30%)"]
    table = [[str(n), *cells] for n, result in enumerate(results, 1) for cells in rows(result)]
    cases = []
    for number, result in enumerate(results, 1):
        case = result.case
        macs = f"{result.macs_per_image / 1e6:,.1f} M MACs per image"
        if case.macs_per_image:
            macs += f" (the paper: {case.macs_per_image / 1e6:,.0f} M)"
        cases.append(
            f"{number}. **{case.title}** on `{case.platform}`: {verdict(result)}. "
            f"Evidence: {case.evidence}; {macs}.\n"
            + "".join(f"   - {line}\n" for line in findings(result))
            + f"   - Assumptions that drive the error: {case.assumptions}.\n"
            f"   - Source: {case.source}."
        )
    command = ".venv/bin/python benchmarks/validate_silicon.py"
    return "\n\n".join(
        [
            "# Validation against published accelerators",
            f"Produced by `{command}` on {datetime.date.today().isoformat()} "
            f"(torch {torch.__version__}, Python {platform.python_version()}).",
            "The cost model's estimates next to published numbers for chips that were built "
            "(or, where said, for the vendor's own model of one). Catalog platforms are used as "
            "shipped: nothing was tuned to fit. Goal: throughput and power within 30% of the "
            "published value; error = (estimate - published) / published. Chip power excludes "
            "DRAM, as Eyeriss measured it. Rows marked diagnostic are not part of the goal: "
            "they show where an error comes from.",
            markdown_table(header, table),
            "\n".join(cases),
            NOT_COMPARED,
        ]
    )


def main() -> None:
    results = [run(case) for case in CASES]
    for result in results:
        if result.case.macs_per_image:  # the network is the one the paper ran
            off = error(result.macs_per_image, result.case.macs_per_image)
            print(f"{result.case.title}: {result.macs_per_image / 1e6:,.1f} M MACs per image "
                  f"({off:+.2%} against the paper)")  # fmt: skip
            assert abs(off) < 0.01, "the network is not the one the paper measured"
    text = report(results) + "\n"
    print(text)
    write_text(DOC, text)


if __name__ == "__main__":
    main()

"""The machine a measurement ran on: its CPU's model and the instruction sets that decide
integer speed-ups (AVX2, AVX-512, VNNI, AMX), read from /proc/cpuinfo; the logical CPUs this
process may use and the load average, which say how much of it a measurement had."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Report name -> /proc/cpuinfo flag. "amx" is the int8 tile multiply (amx_int8), the AMX unit
# that int8 kernels use; amx_tile alone names only the tile registers.
CPU_FLAGS = {
    "avx2": "avx2",
    "avx512f": "avx512f",
    "avx512_vnni": "avx512_vnni",
    "avx_vnni": "avx_vnni",
    "amx": "amx_int8",
}


# /proc/cpuinfo's fields that tell one CPU design from another where the model name does not
# (a cloud machine's "AMD EPYC" is a Genoa on one host, a Turin on the next).
CPU_ID_FIELDS = ("cpu family", "model", "stepping")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU's model name, its family, model and stepping (`cpu_id`, "" where cpuinfo has
    none) and which of the instruction sets in CPU_FLAGS it has."""

    model: str
    flags: dict[str, bool]
    cpu_id: str = ""

    def present(self) -> str:
        """The flags it has, comma-separated ("none" when it has none)."""
        return ", ".join(name for name, has in self.flags.items() if has) or "none"


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The first processor's model name and flags in /proc/cpuinfo-formatted `text`."""
    model, flags, ids = "unknown", None, dict[str, str]()
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key = key.strip()
        if key == "model name" and model == "unknown" and value.strip():
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = set(value.split())
        elif key in CPU_ID_FIELDS and key not in ids:
            ids[key] = value.strip()
    cpu_id = " ".join(
        f"{key.removeprefix('cpu ')} {ids[key]}" for key in CPU_ID_FIELDS if key in ids
    )
    has = {name: flag in (flags or set()) for name, flag in CPU_FLAGS.items()}
    return CpuFeatures(model, has, cpu_id)


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuFeatures:
    """This machine's CPU; model "unknown" and every flag False where there is no cpuinfo
    (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text)


def logical_cpus() -> int:
    """The logical CPUs this process may run on (its affinity mask where the system has one,
    as under `taskset` or a container's cpuset), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # macOS, Windows
        return max(os.cpu_count() or 1, 1)


def load_average() -> float | None:
    """The 1-minute load average (runnable processes, ours included); None where the system
    keeps none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None

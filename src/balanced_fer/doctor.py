"""What this installation runs on (``bfer doctor``): versions, the CPU and its instruction sets,
onnxruntime's providers, and where the shipped models and the array cache live. Paste its output
into a bug report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

# instruction sets that change speed or int8 arithmetic (docs/inference.md)
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
PACKAGES = (
    "balanced-fer",
    "torch",
    "numpy",
    "onnxruntime",
    "opencv-python-headless",
    "ai-edge-litert",
    "scikit-learn",
    "safetensors",
    "onnx",
    "fastapi",
    "uvicorn",
    "pandas",
    "cleanlab",
)


def cpu_description() -> dict:
    """The CPU's model name, its speed- and int8-relevant instruction sets (Linux /proc/cpuinfo) and
    how its int8 kernels add products."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": platform.processor() or platform.machine(), "flags": "unknown (no /proc/cpuinfo)"}
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    vnni = flags & {"avx512_vnni", "avx_vnni", "amx_int8"}
    return {
        "model": fields.get("model name", platform.machine()),
        "flags": " ".join(f for f in CPU_FLAGS if f in flags) or "none of " + ", ".join(CPU_FLAGS),
        "int8_products": "32-bit sums (VNNI / AMX)" if vnni else "16-bit saturating pair sums (VPMADDUBSW)",
    }


def package_versions() -> dict[str, str | None]:
    """Installed version of each package the project uses (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def report() -> dict:
    """Everything ``bfer doctor`` prints, as JSON values."""
    import onnxruntime
    import torch

    from .data.cache import default_cache_dir
    from .faces.detector import MODELS
    from .pretrained import list_pretrained, pretrained_path
    from .training.trainer import runs_bf16_natively

    cache = default_cache_dir()
    cached = [p for p in cache.rglob("*") if p.is_file()] if cache.is_dir() else []
    return {
        "python": f"{sys.version.split()[0]} ({sys.executable})",
        "platform": platform.platform(),
        "packages": package_versions(),
        "cpu": {**cpu_description(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "bf16_training": runs_bf16_natively(torch.device("cpu")),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "models": {name: str(pretrained_path(name)) for name in list_pretrained()},
        "face_detector_models": str(MODELS),
        "cache": {
            "path": str(cache),
            "files": len(cached),
            "megabytes": round(sum(p.stat().st_size for p in cached) / 2**20, 1),
        },
    }


def format_report(values: dict) -> str:
    """:func:`report` as aligned lines for people."""
    cpu, cache = values["cpu"], values["cache"]
    rows = [
        ("python", values["python"]),
        ("platform", values["platform"]),
        *((name, version) for name, version in values["packages"].items() if version),
        ("cpu", f"{cpu['model']}, {cpu.get('cores')} cores, torch uses {cpu.get('torch_threads')} threads"),
        ("cpu flags", cpu["flags"]),
        ("int8 products", cpu.get("int8_products", "unknown")),
        ("bf16 training", "yes (autocast)" if values["bf16_training"] else "no: fp32 (no native bf16 on this CPU)"),
        ("cuda", values["cuda"] or "none"),
        ("onnxruntime", f"providers: {', '.join(values['onnxruntime_providers'])}"),
        *((f"model {name}", path) for name, path in values["models"].items()),
        ("face detector", values["face_detector_models"]),
        ("array cache", f"{cache['path']} ({cache['files']} files, {cache['megabytes']} MB; BFER_CACHE_DIR moves it)"),
    ]
    width = max(len(label) for label, _ in rows)
    return "".join(f"{label:<{width}}  {value}\n" for label, value in rows)

"""sentinet's fused CPU kernels, one extension built once, at install time: SRU's elementwise
part (sru/sru_cpu.cpp) and the GRU/LSTM/RNN inference loop over frozen-input tables
(recurrent_cpu.cpp, used by sentinet.models.recurrent_steps).

    python -m sentinet.models.build_kernel          # build it (make install does); needs g++ and ninja
    python -m sentinet.models.build_kernel --check  # say whether this process would use it

Building takes ~20 s with ``torch.utils.cpp_extension`` and lands in the cache folder
(``$SENTINET_CACHE``, else ``$XDG_CACHE_HOME/sentinet``, else ``~/.cache/sentinet``), under a
name that changes with the source and the torch version, so a stale build is never loaded.
At run time the built library is only imported, never compiled: without a compiler, or
before the build, ``available()`` is False and SRU runs its plain-torch path (same outputs,
slower; GRU/LSTM/RNN inference its torch-ops loop). ``SENTINET_SRU_KERNEL=0`` turns the
kernels off (the name is older than the second kernel).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import sysconfig
from pathlib import Path

import torch
from torch import Tensor

from sentinet.downloads.places import user_cache_dir
from sentinet.errors import install_hint

SOURCES = [Path(__file__).parent / "sru" / "sru_cpu.cpp", Path(__file__).with_name("recurrent_cpu.cpp")]
# -march=native: built for the CPU it runs on (the name below records which); -ffast-math lets
# the compiler vectorise the gates' exp (14x faster than the scalar loop on AVX-512).
CFLAGS = ["-O3", "-march=native", "-ffast-math"]


def cpu_features() -> str:
    """The instruction sets -march=native may use: a cache shared between machines (a home
    folder on NFS) must never hand one CPU's build to another."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def module_name() -> str:
    """Changes with the kernel's source, its flags, torch and the CPU: an old or foreign
    build is never picked up."""
    key = b"\0".join([*(source.read_bytes() for source in SOURCES), " ".join(CFLAGS).encode(),
                      torch.__version__.encode(),
                      platform.machine().encode(), cpu_features().encode()])
    return f"sentinet_kernels_{hashlib.sha256(key).hexdigest()[:12]}"


def build_dir() -> Path:
    return user_cache_dir() / module_name()


def built_library() -> Path | None:
    found = sorted(build_dir().glob(f"{module_name()}*.so"))
    return found[0] if found else None


@functools.cache
def kernel():
    """The built extension module, or None (not built, turned off, or failing to import)."""
    if os.environ.get("SENTINET_SRU_KERNEL", "1") == "0":
        return None
    library = built_library()
    if library is None:
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader(module_name(), str(library))
        spec = importlib.util.spec_from_file_location(module_name(), library, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except (ImportError, OSError):
        return None  # built against another torch or libstdc++: the torch path still works
    return module


def available() -> bool:
    return kernel() is not None


def build(verbose: bool = False) -> Path:
    """Compile the kernel into the cache folder; returns the library's path."""
    from torch.utils import cpp_extension

    if shutil.which(os.environ.get("CXX", "c++")) is None:
        raise RuntimeError("no C++ compiler (c++ or $CXX) on PATH")
    scripts = sysconfig.get_path("scripts")  # pip's ninja lands beside this Python, maybe off PATH
    if shutil.which("ninja") is None and shutil.which("ninja", path=scripts):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    if shutil.which("ninja") is None:
        raise RuntimeError(f"ninja is not installed ({install_hint('fast')}; or apt install ninja-build)")
    build_dir().mkdir(parents=True, exist_ok=True)
    cpp_extension.load(name=module_name(), sources=[str(source) for source in SOURCES],
                       build_directory=str(build_dir()), extra_cflags=CFLAGS, verbose=verbose)
    kernel.cache_clear()
    library = built_library()
    if library is None:
        raise RuntimeError(f"the build left no library in {build_dir()}")
    return library


class FusedSRU(torch.autograd.Function):
    """h [T, B, D*H] of one SRU layer from its projections U [T, B, D, K, H] (see sru_cpu.cpp)."""

    @staticmethod
    def forward(ctx, U: Tensor, x: Tensor, v: Tensor, b: Tensor, lengths: Tensor) -> Tensor:
        h, c = kernel().forward(U, x, v, b, lengths)
        ctx.save_for_backward(U, x, v, b, lengths, c)
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor):
        U, x, v, b, lengths, c = ctx.saved_tensors
        dU, dx, dv, db = kernel().backward(U, x, v, b, lengths, c, grad_h.contiguous())
        dx = dx.sum(2) if dx.numel() else None
        return dU, dx, dv.sum(0), db.sum(0), None


def main() -> None:
    if "--check" in sys.argv[1:]:
        print(f"fused CPU kernels (SRU, GRU/LSTM/RNN inference): {'in use' if available() else 'not in use'} "
              f"({build_dir()})")
        return
    try:
        library = build(verbose="--verbose" in sys.argv[1:])
    except Exception as exc:  # a build is optional: say why, and that SRU still works
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"fused CPU kernels not built ({first}); SRU and the recurrent encoders' inference use their "
              "plain-torch paths", file=sys.stderr)
        return
    print(f"fused CPU kernels built (SRU, GRU/LSTM/RNN inference): {library}")


if __name__ == "__main__":
    main()

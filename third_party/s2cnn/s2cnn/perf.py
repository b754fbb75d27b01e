"""Opt-in, process-wide performance settings.

The layers create a few large temporaries per call (FFT inputs/outputs of several MB to tens of MB at
b ≈ 30–50).  glibc's malloc serves blocks above a *dynamic* mmap threshold with fresh ``mmap``s and
trims freed heap memory, so depending on the allocation history of the process every call may pay
page faults on tens of MB — runs of the same benchmark are then bimodal (e.g. 9 vs 30 ms for the
S2Convolution benchmark case, 330 vs 470 ms for the 204k model forward).  :func:`tune_malloc` fixes
the thresholds so freed blocks are reused; with ``heap_only=True`` even the blocks above glibc's
largest mmap threshold (32 MiB: a model's output grids, hundreds of MB at batch 8) come from the heap and
are reused instead of being mapped, faulted in and zero-filled again every step.  It changes the whole
process (memory freed by it stays mapped), so the library never calls it by itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["tune_malloc", "clear_workspace", "workspace_bytes", "peak_tensor_bytes"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4


def tune_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30, heap_only: bool = False) -> bool:
    """Fix glibc's mmap threshold (max 32 MiB) and trim threshold; return ``False`` if not glibc or refused.

    Parameters
    ----------
    mmap_threshold : int
        Blocks at least this large are ``mmap``-ed (and unmapped on free); smaller ones come from the
        heap and are reused.  glibc accepts at most 32 MiB on 64-bit systems.
    trim_threshold : int
        Free memory at the top of the heap above this size is returned to the OS.
    heap_only : bool
        Also set ``M_MMAP_MAX = 0``: no block is ``mmap``-ed, whatever its size.  Measured on the S2CNN
        204k training step at batch 8 (one thread): −22% CPU time; the process keeps its peak memory.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = (mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1) and ok
    if heap_only:
        ok = (mallopt(_M_MMAP_MAX, 0) == 1) and ok
    return ok


def clear_workspace() -> None:
    """Release the calling thread's transform workspace (the layers' reusable temporaries, see
    `s2cnn._workspace.workspace_buffer`); it is rebuilt on the next call."""
    from ._workspace import clear_workspace as _clear

    _clear()


def workspace_bytes() -> int:
    """Bytes held by the calling thread's transform workspace."""
    from ._workspace import _WS

    return sum(b.numel() * b.element_size() for b in _WS.bufs.values())


def peak_tensor_bytes(fn: Callable[[], object]) -> int:
    """Peak of live tensor memory allocated (CPU) while ``fn()`` runs, in bytes.

    ``torch.profiler`` with ``profile_memory=True`` records each operator's own allocations and the
    frees (``[memory]`` events); they are replayed in time order and the maximum running sum is the peak.
    ``tracemalloc`` misses torch's allocations, and RSS high-water marks include the allocator's caching.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    deltas = []
    for e in prof.events():
        d = e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage
        if d:
            deltas.append((e.time_range.start, d))
    deltas.sort()
    cur = peak = 0
    for _, d in deltas:
        cur += d
        peak = max(peak, cur)
    return peak

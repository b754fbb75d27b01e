"""Workspace of the transforms (CPU): internal temporaries reused across calls, huge-page hints.

Freshly allocated large blocks cost the kernel a page fault and a zero-fill per page (measured
≈ 0.3–0.45 s per GB on the 2-core benchmark VM), more than the GEMMs that fill them at batch 8; the
transforms therefore keep their temporaries in a per-thread workspace and advise transparent huge pages
for large buffers they allocate themselves.
"""

from __future__ import annotations

import math
import threading

import torch

#: advise transparent huge pages (``madvise(MADV_HUGEPAGE)``, Linux) for the transforms' own CPU buffers of
#: at least ``HUGE_PAGE_MIN_BYTES``: outputs that large are fresh ``mmap`` regions whose first touch costs a
#: page fault and a zero-fill per 4 KiB (measured: 93 ms per 209 MB here, 33 ms with huge pages).  A hint
#: on memory the library allocated itself; ``False`` disables it.
HUGE_PAGES = True
HUGE_PAGE_MIN_BYTES = 32 << 20
_MADV_HUGEPAGE = 14
_madvise = None


def _advise_huge(t: torch.Tensor) -> None:
    """``madvise(MADV_HUGEPAGE)`` on the 2-MiB-aligned interior of ``t``'s (fresh, untouched) memory."""
    global _madvise
    if _madvise is None:
        try:
            import ctypes
            import ctypes.util
            import sys

            if not sys.platform.startswith("linux"):
                raise OSError("not Linux")
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.madvise.restype = ctypes.c_int
            _madvise = libc.madvise
        except (OSError, AttributeError):
            _madvise = False
    if not _madvise:
        return
    start, nbytes = t.data_ptr(), t.numel() * t.element_size()
    page = 2 << 20
    a = (start + page - 1) & ~(page - 1)
    e = (start + nbytes) & ~(page - 1)
    if e > a:
        _madvise(a, e - a, _MADV_HUGEPAGE)


def _new_empty(
    shape: int | tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None, min_bytes: int | None = None
) -> torch.Tensor:
    """``torch.empty`` on ``like``'s device, with the huge-page hint for large CPU buffers."""
    t = torch.empty(shape, dtype=like.dtype if dtype is None else dtype, device=like.device)
    limit = HUGE_PAGE_MIN_BYTES if min_bytes is None else min_bytes
    if HUGE_PAGES and t.device.type == "cpu" and t.numel() * t.element_size() >= limit:
        _advise_huge(t)
    return t


class _Workspace(threading.local):
    def __init__(self):
        self.bufs: dict = {}


_WS = _Workspace()


def workspace_buffer(
    name: str, shape: tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None, zero: bool = False
) -> torch.Tensor:
    """A per-thread reusable CPU buffer of ``shape`` (contents undefined, or zero-filled when first created
    with ``zero=True``), or a fresh tensor on other devices.

    Freshly allocated large blocks cost the kernel a page fault and a zero-fill per page (measured
    ≈ 0.3–0.45 s per GB on the 2-core VM), more than the GEMMs that fill them at batch 8.  Only
    temporaries that never leave a transform use this (never outputs or tensors saved for backward);
    :func:`s2cnn.perf.clear_workspace` releases the memory.
    """
    dtype = like.dtype if dtype is None else dtype
    numel = math.prod(shape)
    if like.device.type != "cpu":
        return (torch.zeros if zero else torch.empty)(shape, dtype=dtype, device=like.device)
    key = (name, dtype)
    buf = _WS.bufs.get(key)
    if buf is None or buf.numel() < numel:
        _WS.bufs.pop(key, None)
        buf = _new_empty(numel, like, dtype, min_bytes=4 << 20)  # long-lived: huge pages also spare the TLB
        if zero:
            buf.zero_()
        _WS.bufs[key] = buf
    return buf[:numel].view(shape)


def clear_workspace() -> None:
    """Release this thread's workspace buffers."""
    _WS.bufs.clear()

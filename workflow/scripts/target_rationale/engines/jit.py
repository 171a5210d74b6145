"""The numba decorator of the compiled engines."""

from __future__ import annotations

from collections.abc import Callable

import numba


def njit(func: Callable) -> Callable:
    """``numba.njit(nogil=True)``, cached on disk when numba finds a writable cache folder."""
    try:
        return numba.njit(nogil=True, cache=True)(func)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, cache=False)(func)

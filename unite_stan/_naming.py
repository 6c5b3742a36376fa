"""Site-name helpers shared by the configuration modules."""

from __future__ import annotations

__all__ = ["letter_suffix"]


def letter_suffix(k: int) -> str:
    """Excel-style letters for a 0-based counter: 0 → a, 25 → z, 26 → aa, 27 → ab."""
    if k < 0:
        raise ValueError(f"letter_suffix({k}): the counter must be >= 0")
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(ord("a") + r) + s
    return s

"""min/median/max of a bench's repeated measurements, printed the same way by every bench.

The benches are scripts (``python bench/bench_text.py``), so this sibling module is on their path.
"""

from __future__ import annotations

import statistics


def ms(seconds: list[float], width: int = 7) -> str:
    """Seconds shown as ``min … median … max … ms``."""
    return "  ".join(f"{name} {value * 1000:{width}.1f}" for name, value in _three(seconds)) + " ms"


def slashes(values: list[float], digits: int = 3) -> str:
    """Values shown as ``min/median/max``."""
    return "/".join(f"{value:.{digits}f}" for _, value in _three(values))


def _three(values: list[float]) -> tuple[tuple[str, float], ...]:
    return ("min", min(values)), ("median", statistics.median(values)), ("max", max(values))

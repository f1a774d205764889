"""Reading the whole numbers people type into query strings and forms, and writing the numbers people read."""

import math
from decimal import Decimal

# Nine digits fit every integer column on every database; `"²".isdigit()` is true but int() refuses it.
MAX_DIGITS = 9


def whole_number(raw) -> int | None:
    """`raw` as a non-negative int when it is 1 to 9 ASCII digits, else None."""
    if isinstance(raw, str) and 0 < len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


# --- Writing the numbers people read: tables, charts, summaries ------------------------------------------

# Differences smaller than this are rounding noise: no sign, neither better nor worse.
ZERO_NOISE = 1e-12


def metric_text(value) -> str:
    """A metric value, short but exact enough to compare: 0.9123, 12.5, 48,213."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return str(number)
    if number == 0:
        return "0"
    if abs(number) >= 100_000:
        return f"{number:,.0f}"
    # People read 0.00004, not 4.000e-05: four significant digits, written out in full.
    text = format(Decimal(f"{number:.5g}" if abs(number) >= 0.0001 else f"{number:.4g}"), "f")
    return text if "e" not in text else f"{number:,.2f}"


def signed_text(value) -> str:
    """A difference with its sign: +0.0123, −0.004, ±0."""
    if value is None or value == "":
        return "—"
    number = float(value)
    if abs(number) <= ZERO_NOISE:
        return "±0"
    return ("+" if number > 0 else "−") + metric_text(abs(number))


def direction_text(direction: str) -> str:
    """Which way a metric is better, in words."""
    return {"higher": "↑ higher is better", "lower": "↓ lower is better"}.get(direction, "direction unknown")

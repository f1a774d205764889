"""Reading the whole numbers people type into query strings and forms."""

# Nine digits fit every integer column on every database; `"²".isdigit()` is true but int() refuses it.
MAX_DIGITS = 9


def whole_number(raw) -> int | None:
    """`raw` as a non-negative int when it is 1 to 9 ASCII digits, else None."""
    if isinstance(raw, str) and 0 < len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit():
        return int(raw)
    return None

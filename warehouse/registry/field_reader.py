"""Reading fields of plain data (a JSON body, or a form turned into one) while collecting every problem.

Each method answers the value read, or None (or "") after noting what is wrong under the field's path
(`artifacts[2].sha256`), so one answer lists every problem at once. The evidence parser reads with it.
"""

import math
import re
from collections.abc import Mapping
from typing import Any

MAX_MAGNITUDE = 1e15
CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")


class FieldReader:
    """Collects every problem instead of stopping at the first, so one answer lists them all."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def obj(self, value: Any, path: str, allowed: set[str], required: bool = True) -> Mapping | None:
        if value is None:
            if required:
                self.error(path, "This field is required.")
            return None
        if not isinstance(value, Mapping):
            self.error(path, "Must be an object.")
            return None
        for key in sorted(set(value) - allowed):
            self.error(
                f"{path}.{key}" if path else key,
                f"Unknown field; expected one of: {', '.join(sorted(allowed))}.",
            )
        return value

    def text(
        self,
        data: Mapping,
        key: str,
        path: str,
        *,
        max_length: int,
        required: bool = True,
        pattern: re.Pattern | None = None,
        pattern_help: str = "",
        multiline: bool = False,
    ) -> str:
        field = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(field, "This field is required.")
            return ""
        if not isinstance(value, str):
            self.error(field, "Must be a string.")
            return ""
        value = value.strip()
        if not value and required:
            self.error(field, "This field is required.")
        elif len(value) > max_length:
            self.error(field, f"At most {max_length} characters (got {len(value)}).")
        elif (CONTROL_MULTILINE if multiline else CONTROL_SINGLE_LINE).search(value):
            self.error(field, "Control characters are not allowed.")
        elif pattern is not None and not pattern.match(value):
            self.error(field, pattern_help)
        return value

    def number(
        self, data: Mapping, key: str, path: str, *, required: bool = True, minimum: float | None = None
    ) -> float | None:
        field = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(field, "This field is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.error(field, "Must be a number.")
            return None
        try:
            number = float(value)
        except (ValueError, OverflowError):  # OverflowError: a JSON integer of hundreds of digits
            self.error(field, f"Must be a number (got {str(value)[:40]!r}).")
            return None
        if not math.isfinite(number):
            self.error(field, "Must be a finite number.")
            return None
        if abs(number) > MAX_MAGNITUDE:
            # No metric, latency or cost is this large; differences of such numbers overflow to infinity.
            self.error(field, f"Must be between -{MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}.")
            return None
        if minimum is not None and number < minimum:
            self.error(field, f"Must be at least {minimum:g}.")
            return None
        return number

    def integer(
        self,
        data: Mapping,
        key: str,
        path: str,
        *,
        required: bool = True,
        minimum: int = 0,
        maximum: int = 2**63 - 1,
    ) -> int | None:
        field = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(field, "This field is required.")
            return None
        # ASCII digits only: "²".isdigit() is true but int() refuses it, and int() refuses over 4300 digits.
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip()) if len(value.strip()) <= 20 else maximum + 1
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(field, "Must be a whole number.")
            return None
        if value < minimum:
            self.error(field, f"Must be at least {minimum}.")
            return None
        if value > maximum:
            self.error(field, f"At most {maximum}.")
            return None
        return value

    def items(self, value: Any, path: str, *, maximum: int, required: bool) -> list:
        if value is None:
            if required:
                self.error(path, "This field is required.")
            return []
        if not isinstance(value, list):
            self.error(path, "Must be a list.")
            return []
        if len(value) > maximum:
            self.error(path, f"At most {maximum} entries (got {len(value)}).")
            return []
        return value

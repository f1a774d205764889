"""What every schema shares: closed request objects, patterns of text, and how a field names its type."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

# Text on one line, and text that may hold newlines and tabs (descriptions), as the evidence parser
# reads them.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NO_NUL = r"^[^\x00]*$"
# The services strip text and refuse what is then empty or holds NUL; beyond that any character goes.
SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
VERSION_ID = r"^[a-z0-9-]+/v[0-9]+$"

# A union's members are told apart by these tags (not by trying each in turn), so an error inside one member
# is reported at the field's own path; `errors.field_path` drops the tags.
TAG_PREFIX = "~"
OBJECT_TAG, TEXT_TAG, NUMBER_TAG = f"{TAG_PREFIX}object", f"{TAG_PREFIX}text", f"{TAG_PREFIX}number"


class Body(BaseModel):
    """A request body: unknown fields are refused at every level, and nothing is coerced (`"7"` is not 7,
    `"false"` is not false, NaN is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, regex_engine="python-re")


class Answer(BaseModel):
    """An answer. Open in the document (v1 may add fields), shaped by the class on the way out."""

    model_config = ConfigDict(regex_engine="python-re")


def text(max_length: int, *, min_length: int = 0, multiline: bool = False, **extra) -> Any:
    return Field(
        min_length=min_length or None,
        max_length=max_length,
        pattern=MULTILINE if multiline else SINGLE_LINE,
        **extra,
    )


def _by_json_type(value: Any) -> str | None:
    if isinstance(value, dict | BaseModel):
        return OBJECT_TAG
    if isinstance(value, str):
        return TEXT_TAG
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBER_TAG
    return None


def either(first: tuple[Any, str], second: tuple[Any, str], *, description: str) -> Any:
    """A field that is one of two JSON types (an object or text, a number or text)."""
    (one, one_tag), (other, other_tag) = first, second
    return Annotated[
        Annotated[one, Tag(one_tag)] | Annotated[other, Tag(other_tag)],
        Discriminator(
            _by_json_type,
            custom_error_type="invalid_type",
            custom_error_message=description,
        ),
    ]


Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Link = Annotated[str, Field(json_schema_extra={"format": "uri"})]

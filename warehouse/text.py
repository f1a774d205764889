"""Checking the free text people and machines send (reasons, comments, justifications, card sections)."""

NUL_MESSAGE = "Must not contain NUL characters."
SURROGATE_MESSAGE = "Must be valid Unicode text: it holds a lone surrogate."


def is_encodable(text: str) -> bool:
    """False for text holding a lone surrogate (JSON can carry "\\ud800"): no database stores it and no
    renderer shows it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(value, *, required: str, max_length: int) -> str:
    """Why `value` cannot be kept as a line of free text, or "": not text, empty (`required` says what to
    write), too long, a NUL character, a lone surrogate. Checked on the stripped text."""
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if value is None:
        return "Must be text."
    if not value:
        return required
    if len(value) > max_length:
        return f"At most {max_length} characters."
    if "\x00" in value:
        return NUL_MESSAGE
    if not is_encodable(value):
        return SURROGATE_MESSAGE
    return ""

"""Errors the services raise. They carry no HTTP: the pages and the API each turn them into a response."""


class InvalidInput(Exception):
    """The input is wrong; nothing was written. `errors` maps a field path to what is wrong with it."""

    code = "invalid"

    def __init__(
        self, errors: dict[str, list[str]], message: str = "The input has errors; nothing was saved."
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors


class Conflict(Exception):
    """The request is well formed but the current state refuses it (a stage move not allowed, a race lost)."""

    def __init__(self, message: str, *, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code

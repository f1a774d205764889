"""What changed in a section's Markdown between two texts, word by word.

The source is compared, never the rendered HTML: a diff of HTML would mark tags, and marking inside sanitised
HTML could unbalance it. The pieces are plain text; the page escapes each one and wraps it in <del> or <ins>.
Lines are matched first and words only inside the lines that changed, so a long section that changed in one
place costs little, and a pair of changed blocks too long to compare word by word is marked whole.
"""

import difflib
import re
from dataclasses import dataclass

SAME, INSERTED, DELETED = "same", "ins", "del"
# A word keeps its inner punctuation (0.912, v7, step-up, 3-D, don't, 12:30); other punctuation and each run
# of whitespace are tokens of their own, so "0.85," → "0.86," marks the number and not the comma.
_TOKEN = re.compile(r"\s+|\w+(?:[.,:/'’-]\w+)*|[^\w\s]")
MAX_WORDS_COMPARED = 5000


@dataclass(frozen=True)
class Piece:
    kind: str  # SAME, INSERTED (only in the head's text) or DELETED (only in the base's)
    text: str


@dataclass(frozen=True)
class TextDiff:
    base: list[Piece]  # the base's text, what the head dropped marked DELETED
    head: list[Piece]  # the head's text, what it added marked INSERTED
    added: int  # words
    removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed) or _joined(self.base) != _joined(self.head)


def _joined(pieces: list[Piece]) -> str:
    return "".join(piece.text for piece in pieces)


def _words(text: str) -> int:
    return sum(1 for token in _TOKEN.findall(text) if not token.isspace())


class _Sides:
    """The two texts being built, with neighbouring pieces of one kind merged."""

    def __init__(self):
        self.base: list[Piece] = []
        self.head: list[Piece] = []
        self.added = self.removed = 0

    @staticmethod
    def _put(pieces: list[Piece], kind: str, text: str) -> None:
        if not text:
            return
        if pieces and pieces[-1].kind == kind:
            pieces[-1] = Piece(kind, pieces[-1].text + text)
        else:
            pieces.append(Piece(kind, text))

    def same(self, text: str) -> None:
        self._put(self.base, SAME, text)
        self._put(self.head, SAME, text)

    def deleted(self, text: str) -> None:
        self._put(self.base, DELETED, text)
        self.removed += _words(text)

    def inserted(self, text: str) -> None:
        self._put(self.head, INSERTED, text)
        self.added += _words(text)


def _compare_words(sides: _Sides, old: str, new: str) -> None:
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(old_tokens) + len(new_tokens) > MAX_WORDS_COMPARED:
        sides.deleted(old)
        sides.inserted(new)
        return
    # autojunk off: with it, spaces and common words in a long block count as junk and the match falls apart.
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            sides.same("".join(old_tokens[i1:i2]))
            continue
        sides.deleted("".join(old_tokens[i1:i2]))
        sides.inserted("".join(new_tokens[j1:j2]))


def text_diff(base: str, head: str) -> TextDiff:
    """`base` → `head`, word by word inside the lines that changed."""
    old_lines, new_lines = base.splitlines(keepends=True), head.splitlines(keepends=True)
    sides = _Sides()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if tag == "equal":
            sides.same(old)
        elif tag == "replace":
            _compare_words(sides, old, new)
        else:
            sides.deleted(old)
            sides.inserted(new)
    return TextDiff(base=sides.base, head=sides.head, added=sides.added, removed=sides.removed)

"""Fail when a module of the warehouse grows past what a reader can hold in their head.

STYLE.md's rule: a module over ~500 lines, or a function over cyclomatic complexity 15 (as radon counts
it, boolean operators included), is split by concern before it grows further. Migrations are generated and
exempt. `make lint` runs this; it prints every offender with its place, so the fix starts at the right line.

    python -m scripts.shape_check [ROOT]
"""

import sys
from pathlib import Path

from radon.complexity import cc_visit

MAX_LINES = 500
MAX_COMPLEXITY = 15


def python_modules(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "migrations" not in path.parts)


def oversized(path: Path, source: str) -> list[str]:
    lines = source.count("\n")
    if lines <= MAX_LINES:
        return []
    return [f"{path}: {lines} lines (at most {MAX_LINES}): split it by concern"]


def too_complex(path: Path, source: str) -> list[str]:
    problems = []
    for block in cc_visit(source):
        # radon lists each method on its own as well as inside its class, whose figure is their total.
        if hasattr(block, "methods"):
            continue
        if block.complexity > MAX_COMPLEXITY:
            problems.append(
                f"{path}:{block.lineno}: {block.fullname} has cyclomatic complexity {block.complexity} "
                f"(at most {MAX_COMPLEXITY})"
            )
    return problems


def problems_in(root: Path) -> list[str]:
    problems = []
    for path in python_modules(root):
        source = path.read_text(encoding="utf-8")
        problems += oversized(path, source) + too_complex(path, source)
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("warehouse")
    problems = problems_in(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} module(s) or function(s) too big to hold in one's head", file=sys.stderr)
        return 1
    print(f"{len(python_modules(root))} modules: none over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

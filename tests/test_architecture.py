"""The house's shape, kept by a test: dependencies run one way, and only the stage door writes a stage.

DESIGN.md: `accounts`, `audit` ← `registry` ← `cards` ← `promotions` ← `incidents`, `webhooks`, `tracking`
← `pages`, `api`. Every import under warehouse/ (lazy ones inside functions too) is read with `ast` and held
to that order; a failure names the file, the line and the import.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "warehouse"

# The layer of each part of the package. A part may import parts of lower layers; parts of one layer do
# not import each other, except the core, which holds no app and uses none.
LAYERS = {
    # The core: small modules every app may use.
    "changes": 0,
    "charts": 0,
    "clock": 0,
    "errors": 0,
    "numbers": 0,
    "text": 0,
    "dbtriggers": 0,
    "settings": 0,
    "celery": 0,
    "health": 0,
    "retries": 0,
    "machine_http": 0,
    # The apps, lowest first.
    "audit": 1,
    "accounts": 2,
    "registry": 3,
    "cards": 4,
    "promotions": 5,
    "incidents": 6,
    "webhooks": 6,
    "tracking": 6,
    "pages": 7,
    "api": 7,
    "demo": 7,
    # The entry points, which put everything together.
    "middleware": 8,
    "urls": 8,
    "wsgi": 8,
    "asgi": 8,
    "__init__": 8,
}
CORE = 0
# The one module that writes ModelVersion.stage: version_transition, and registration's first Draft.
STAGE_DOOR = "warehouse/registry/services.py"
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}


def part_of(module: str) -> str | None:
    """The part of the package `module` (a dotted name) belongs to, or None outside it."""
    names = module.split(".")
    if names[0] != "warehouse":
        return None
    return names[1] if len(names) > 1 else "__init__"


def imported_modules(tree: ast.AST, own_module: str):
    """(line, dotted module) of every import in `tree`, relative ones resolved against `own_module`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own_module.split(".")[: -node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "warehouse":
                # `from warehouse import clock` imports warehouse.clock.
                for alias in node.names:
                    yield node.lineno, f"warehouse.{alias.name}"
            else:
                yield node.lineno, module


def layer_violations(sources: dict[str, str]) -> list[str]:
    """Every import that goes up a layer or sideways, in `sources` (path under the project → source)."""
    found = []
    for path, source in sorted(sources.items()):
        module = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        own = part_of(module)
        if own not in LAYERS:
            found.append(f"{path}: {own!r} has no place in LAYERS; give it one (DESIGN.md's order)")
            continue
        for line, imported in imported_modules(ast.parse(source), module):
            other = part_of(imported)
            if other is None or other == own:
                continue
            if other not in LAYERS:
                found.append(f"{path}:{line} imports {imported}: {other!r} has no place in LAYERS")
            elif LAYERS[other] > LAYERS[own] or (LAYERS[other] == LAYERS[own] != CORE):
                found.append(
                    f"{path}:{line} imports {imported}: {own} (layer {LAYERS[own]}) may not depend on "
                    f"{other} (layer {LAYERS[other]}); dependencies run one way"
                )
    return found


def stage_writes(sources: dict[str, str]) -> list[str]:
    """Every write of a version's stage outside the stage door: `x.stage = …`, or `stage=` given to a
    queryset or manager write."""
    found = []
    for path, source in sorted(sources.items()):
        if path == STAGE_DOOR:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(target, ast.Attribute) and target.attr == "stage" for target in targets):
                    found.append(f"{path}:{node.lineno} assigns a stage: {ast.unparse(node)[:80]}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITES
                and any(keyword.arg == "stage" for keyword in node.keywords)
            ):
                found.append(f"{path}:{node.lineno} writes a stage: {ast.unparse(node)[:80]}")
    return found


def package_sources() -> dict[str, str]:
    """Every module of the package but its migrations (history, which imports what it needed then)."""
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }


def test_dependencies_run_one_way():
    assert layer_violations(package_sources()) == []


def test_only_the_stage_door_writes_a_stage():
    assert stage_writes(package_sources()) == []


def test_an_upward_import_is_caught_and_named():
    planted = {
        "warehouse/registry/selectors.py": "def f():\n    from warehouse.promotions.gates import x\n",
        "warehouse/cards/services.py": "from warehouse import incidents\n",
        "warehouse/incidents/views.py": "import warehouse.webhooks.services\n",
        "warehouse/audit/services.py": "from ..accounts import permissions\n",
        "warehouse/newapp/models.py": "",
    }

    found = layer_violations(planted)

    assert found == [
        "warehouse/audit/services.py:1 imports warehouse.accounts: audit (layer 1) may not depend on "
        "accounts (layer 2); dependencies run one way",
        "warehouse/cards/services.py:1 imports warehouse.incidents: cards (layer 4) may not depend on "
        "incidents (layer 6); dependencies run one way",
        "warehouse/incidents/views.py:1 imports warehouse.webhooks.services: incidents (layer 6) may not "
        "depend on webhooks (layer 6); dependencies run one way",
        "warehouse/newapp/models.py: 'newapp' has no place in LAYERS; give it one (DESIGN.md's order)",
        "warehouse/registry/selectors.py:2 imports warehouse.promotions.gates: registry (layer 3) may "
        "not depend on promotions (layer 5); dependencies run one way",
    ]


def test_a_stage_written_outside_the_door_is_caught():
    planted = {
        "warehouse/promotions/requests/services.py": (
            "def sneak(version):\n"
            "    version.stage = 'production'\n"
            "    ModelVersion.objects.filter(pk=version.pk).update(stage='production')\n"
            "    ModelVersion.objects.filter(stage='draft')\n"  # a read: fine
        ),
        STAGE_DOOR: "def _set_stage(version, stage):\n    version.stage = stage\n",
    }

    found = stage_writes(planted)

    assert [entry.split(" ", 1)[0] for entry in found] == [
        "warehouse/promotions/requests/services.py:2",
        "warehouse/promotions/requests/services.py:3",
    ]

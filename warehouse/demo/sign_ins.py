"""The demo's sign-ins, one per role, as data/demo.yaml lists them."""

from dataclasses import dataclass

from warehouse.accounts.roles import Role
from warehouse.demo.files import data_file


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role | None  # None: the superuser
    first_name: str
    last_name: str
    does: str


def _demo_user(entry: dict) -> DemoUser:
    return DemoUser(
        username=entry["username"],
        role=None if entry.get("superuser") else Role(entry["role"]),
        first_name=entry["first_name"],
        last_name=entry["last_name"],
        does=entry["does"],
    )


DEMO_PASSWORD: str = data_file("demo.yaml")["password"]
DEMO_USERS: tuple[DemoUser, ...] = tuple(_demo_user(entry) for entry in data_file("demo.yaml")["users"])
TEAMS: tuple[str, ...] = tuple(data_file("demo.yaml")["teams"])


def sign_ins_table() -> str:
    """The demo sign-ins as a plain-text table, for the terminal."""
    rows = [("Role", "Username", "Password", "What the role allows")]
    rows += [
        (user.role.label if user.role else "Admin (superuser)", user.username, DEMO_PASSWORD, user.does)
        for user in DEMO_USERS
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)

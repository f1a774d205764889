"""The demo's data files (data/), read as plain dicts and lists."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"


@cache
def data_file(name: str) -> Any:
    """One file under data/, parsed. Cached: callers read, never change, what it returns."""
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def demo_models() -> list[dict]:
    """Every demo model's file (data/models/<name>.yaml), in the order data/demo.yaml lists them."""
    return [data_file(f"models/{name}.yaml") for name in data_file("demo.yaml")["models"]]


def tracked_model() -> dict:
    """The file of the demo model whose versions come from tracked runs (it has `tracked_runs`)."""
    return next(model for model in demo_models() if "tracked_runs" in model)

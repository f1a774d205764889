"""A demo version's registration body (what a CI pipeline would POST), made from its model's data file.

A model's file states once what holds for every version, with a few rules where values change per version:
  "…/v{number}/model.onnx"                  a template: {number}, {when:%Y-%m} (the registration's day) and,
                                            in source_run, the fields above it ({run_id}) are filled in
  {sha256_of: "fraud:{number}:env"}         a made-up digest: the hash of the filled-in text (`length`: cut)
  {sha1_of: "fraud:{number}"}               a made-up commit, the same way
  {base: 3.1, per_version: 0.1}             base + per_version × number (`format`: as text, e.g. ".4f")
Slice numbers are drawn around the version's headline values from each slice's difficulty, seeded by name, so
every load writes the same numbers.
"""

import hashlib
import random
import re
from datetime import datetime
from typing import Any

PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")


def fill(template: str, context: dict[str, Any]) -> str:
    """`template` with each {name} or {name:format} that `context` knows filled in; other braces (an
    Alertmanager group key) stay as they are."""

    def one(match: re.Match) -> str:
        name, spec = match.groups()
        return format(context[name], spec or "") if name in context else match.group(0)

    return PLACEHOLDER.sub(one, template)


def filled(data: Any, context: dict[str, Any]) -> Any:
    """`data` (dicts, lists, values) with every text in it filled in."""
    if isinstance(data, str):
        return fill(data, context)
    if isinstance(data, dict):
        return {key: filled(value, context) for key, value in data.items()}
    if isinstance(data, list):
        return [filled(value, context) for value in data]
    return data


def value(rule: Any, context: dict[str, Any]) -> Any:
    """One value for a version: a template filled in, a rule worked out, or the value as it is."""
    if isinstance(rule, str):
        return fill(rule, context)
    if not isinstance(rule, dict):
        return rule
    if "sha256_of" in rule:
        return hashlib.sha256(fill(rule["sha256_of"], context).encode()).hexdigest()[: rule.get("length")]
    if "sha1_of" in rule:
        return hashlib.sha1(fill(rule["sha1_of"], context).encode(), usedforsecurity=False).hexdigest()
    if "base" in rule:
        number = rule["base"] + context["number"] * rule["per_version"]
        return format(number, rule["format"]) if "format" in rule else number
    raise ValueError(f"Not a rule the demo knows: {rule!r}")


def headline(model: dict, number: int) -> dict[str, float]:
    """The version's overall value of each metric, rounded to the metric's digits."""
    metrics = model["evaluation"]["metrics"]
    values = model["versions"][number]["metrics"]
    return {
        metric["name"]: round(value, metric.get("digits", 4))
        for metric, value in zip(metrics, values, strict=True)
    }


def slice_rows(model: dict, number: int) -> list[dict]:
    """Every slice's value of each slice metric: the headline value moved by the slice's difficulty (plus the
    version's regression there, plus noise), in units of the metric's spread; sample counts grow 3.5% a
    version."""
    evaluation = model["evaluation"]
    metrics = {metric["name"]: metric for metric in evaluation["metrics"]}
    overall = headline(model, number)
    regressions = model["versions"][number].get("regressions", {})
    rows = []
    for slice_key, (base_count, difficulty) in evaluation["slices"].items():
        rng = random.Random(f"{model['name']}:{number}:{slice_key}")
        count = max(1, round(base_count * (1 + 0.035 * (number - 1)) * rng.uniform(0.97, 1.03)))
        for name in evaluation["slice_metrics"]:
            metric = metrics[name]
            worse = (difficulty + regressions.get(slice_key, 0.0) + rng.gauss(0, 0.12)) * metric["spread"]
            slice_value = overall[name] - worse if metric["direction"] == "higher" else overall[name] + worse
            slice_value = min(max(slice_value, 0.0005), 0.9995)
            rows.append(
                {
                    "slice": slice_key,
                    "metric": name,
                    "value": round(slice_value, metric.get("digits", 4)),
                    "sample_count": count,
                }
            )
    return rows


def registration_body(model: dict, number: int, when: datetime) -> dict:
    """The body a CI pipeline would POST to /api/v1/models/<name>/versions for this version, on `when`."""
    evaluation = model["evaluation"]
    values = headline(model, number)
    context = {"number": number, "when": when}
    source_run: dict[str, Any] = {}
    for key, rule in model["source_run"].items():
        source_run[key] = value(rule, context | source_run)
    card = {
        "number": number,
        "dataset": evaluation["dataset"],
        "metrics": ", ".join(f"{name} {metric_value:g}" for name, metric_value in values.items()),
    }
    return {
        "description": model["versions"][number]["notes"],
        "artifacts": [
            {key: value(rule, context) for key, rule in artifact.items()} for artifact in model["artifacts"]
        ],
        "source_run": source_run,
        "evaluation": {
            "dataset": evaluation["dataset"],
            "dataset_version": f"{when:%Y-%m-%d}",
            "metrics": [
                {"name": metric["name"], "value": values[metric["name"]], "direction": metric["direction"]}
                for metric in evaluation["metrics"]
            ],
            "slices": slice_rows(model, number),
        },
        "profile": {key: value(rule, context) for key, rule in model["profile"].items()},
        "card": fill(model["card"], card),
    }

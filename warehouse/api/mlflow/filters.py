"""The search filter grammar the MLflow client sends, read into Django queries.

Clauses joined by AND: `name = 'x'`, `name LIKE 'fraud-%'`, `name ILIKE ...`, `tags.<key> = 'v'` (also
`tag.`, keys quoted with backticks or double quotes, `!=`, LIKE, ILIKE), for versions also `run_id = ` /
`IN (...)` and `version_number` compared with `= != < <= > >=`. `tags.k != 'v'` matches what has no tag
`k`: every registered-model search of the client carries ``tag.`mlflow.prompt.is_prompt` != 'true'``, and a
model without the tag must match it. Anything else is INVALID_PARAMETER_VALUE.
"""

import re
from dataclasses import dataclass

from django.db.models import Exists, Model, OuterRef, Q

from warehouse.api.mlflow.http import invalid

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<tag>(?:tags?)\.(?:`[^`]+`|"[^"]+"|[\w.\-]+))
    | (?P<word>[A-Za-z_][\w.]*|`[^`]+`)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
STRING_COMPARATORS = {"=", "!=", "LIKE", "ILIKE"}
NUMBER_COMPARATORS = {"=", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Condition:
    key: str  # an attribute, or the tag's key
    comparator: str
    value: object
    is_tag: bool = False


@dataclass(frozen=True)
class Grammar:
    """What one kind of search may filter on: attribute → (field, kind), kind "text", "list" or "number"."""

    attributes: dict[str, tuple[str, str]]
    tag_model: type[Model]
    tag_owner: str  # the tag model's foreign key to what is searched


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise invalid(f"Invalid filter at {text[position : position + 20]!r}: cannot parse it.")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return re.sub(r"\\(.)", r"\1", text[1:-1]) if text[0] != "`" else text[1:-1]
    return text


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], text: str):
        self.tokens, self.at, self.text = tokens, 0, text

    def next(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise invalid(f"Invalid filter {self.text!r}: it ends too early.")
        self.at += 1
        return self.tokens[self.at - 1]

    def done(self) -> bool:
        return self.at >= len(self.tokens)

    def comparator(self) -> str:
        kind, text = self.next()
        if kind == "op":
            return text
        if kind == "word" and text.upper() in ("LIKE", "ILIKE", "IN"):
            return text.upper()
        if kind == "word" and text.upper() == "NOT":
            kind, text = self.next()
            if kind == "word" and text.upper() == "IN":
                return "NOT IN"
        raise invalid(f"Invalid filter {self.text!r}: expected a comparison, found {text!r}.")

    def value(self) -> object:
        kind, text = self.next()
        if kind == "string":
            return _unquote(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "punct" and text == "(":
            values = []
            while True:
                kind, text = self.next()
                if kind != "string":
                    raise invalid(f"Invalid filter {self.text!r}: a list holds quoted strings.")
                values.append(_unquote(text))
                kind, text = self.next()
                if text == ")":
                    return tuple(values)
                if text != ",":
                    raise invalid(f"Invalid filter {self.text!r}: expected ',' or ')' in a list.")
        raise invalid(f"Invalid filter {self.text!r}: expected a value, found {text!r}.")


def filter_parse(text: str, grammar: Grammar) -> list[Condition]:
    if not text.strip():
        return []
    reader, conditions = _Reader(_tokens(text), text), []
    while True:
        kind, identifier = reader.next()
        if kind == "tag":
            key = _unquote(identifier.partition(".")[2])
            conditions.append(_tag_condition(key, reader.comparator(), reader.value(), text))
        elif kind == "word" and _unquote(identifier).removeprefix("attributes.") in grammar.attributes:
            name = _unquote(identifier).removeprefix("attributes.")
            conditions.append(_attribute_condition(name, reader.comparator(), reader.value(), grammar, text))
        else:
            known = ", ".join(sorted(grammar.attributes))
            raise invalid(f"Invalid filter {text!r}: {identifier!r} is not one of {known}, tags.<key>.")
        if reader.done():
            return conditions
        kind, word = reader.next()
        if kind != "word" or word.upper() != "AND":
            raise invalid(f"Invalid filter {text!r}: clauses are joined by AND (OR is not supported).")


def _tag_condition(key: str, comparator: str, value, text: str) -> Condition:
    if comparator not in STRING_COMPARATORS or not isinstance(value, str):
        raise invalid(
            f"Invalid filter {text!r}: a tag compares with =, !=, LIKE or ILIKE and a quoted string."
        )
    return Condition(key, comparator, value, is_tag=True)


def _attribute_condition(name: str, comparator: str, value, grammar: Grammar, text: str) -> Condition:
    kind = grammar.attributes[name][1]
    if kind == "number":
        if comparator not in NUMBER_COMPARATORS or not isinstance(value, int):
            raise invalid(f"Invalid filter {text!r}: {name} compares with = != < <= > >= and a whole number.")
    elif comparator in ("IN", "NOT IN"):
        if kind != "list" or not isinstance(value, tuple):
            raise invalid(f"Invalid filter {text!r}: {name} {comparator} takes a list of quoted strings.")
    elif comparator not in STRING_COMPARATORS or not isinstance(value, str):
        raise invalid(
            f"Invalid filter {text!r}: {name} compares with =, !=, LIKE or ILIKE and a quoted string."
        )
    return Condition(name, comparator, value)


def like_regex(pattern: str) -> str:
    """SQL LIKE's `%` and `_` as an anchored regular expression (the same on SQLite and PostgreSQL)."""
    parts = ("." + "*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern)
    return "^" + "".join(parts) + "$"


NUMBER_LOOKUPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _compare(field: str, comparator: str, value) -> Q:
    if comparator == "=":
        return Q(**{field: value})
    if comparator == "!=":
        return ~Q(**{field: value})
    if comparator == "LIKE":
        return Q(**{f"{field}__regex": like_regex(value)})
    if comparator == "ILIKE":
        return Q(**{f"{field}__iregex": like_regex(value)})
    if comparator == "IN":
        return Q(**{f"{field}__in": value})
    if comparator == "NOT IN":
        return ~Q(**{f"{field}__in": value})
    return Q(**{f"{field}__{NUMBER_LOOKUPS[comparator]}": value})


def filter_q(conditions: list[Condition], grammar: Grammar) -> Q:
    query = Q()
    for condition in conditions:
        if not condition.is_tag:
            query &= _compare(grammar.attributes[condition.key][0], condition.comparator, condition.value)
            continue
        tags = grammar.tag_model.objects.filter(**{grammar.tag_owner: OuterRef("pk"), "key": condition.key})
        if condition.comparator == "!=":
            # Missing matches: "not tagged with this value".
            query &= ~Exists(tags.filter(value=condition.value))
        else:
            query &= Exists(tags.filter(_compare("value", condition.comparator, condition.value)))
    return query


def order_parse(order_by: list[str], columns: dict[str, str], default: list[str]) -> list[str]:
    """`["name ASC", "creation_timestamp DESC"]` as Django's ordering, each column known."""
    ordering = []
    for clause in order_by:
        words = clause.strip().split()
        if not words or len(words) > 2 or words[0].removeprefix("attributes.") not in columns:
            raise invalid(
                f"Invalid order_by clause {clause!r}: order by one of {', '.join(sorted(columns))}."
            )
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise invalid(f"Invalid order_by clause {clause!r}: the direction is ASC or DESC.")
        field = columns[words[0].removeprefix("attributes.")]
        ordering.append(f"-{field}" if direction == "DESC" else field)
    return ordering + [
        field for field in default if field.lstrip("-") not in {o.lstrip("-") for o in ordering}
    ]

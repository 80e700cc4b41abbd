"""Search filters and namespace matching, shared by every store backend.

A LangGraph filter is a mapping from value fields to a value (equality) or to operators
(`$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`). `split_filter` splits it into the part a chromadb
`where` clause evaluates exactly (top-level scalar fields) and a residue checked in Python with
`matches`, so every backend returns the same items for the same filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.store.base import MatchCondition

#: Prefix of the chromadb metadata key that mirrors a top-level value field.
FIELD_PREFIX = "v:"

_RANGE = {"$gt", "$gte", "$lt", "$lte"}
Scalar = str | int | float | bool


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def field_metadata(value: Mapping[str, Any]) -> dict[str, Scalar]:
    """The value's top-level scalar fields, as chromadb metadata (so filters run in chromadb)."""
    return {FIELD_PREFIX + k: v for k, v in value.items() if is_scalar(v)}


def split_filter(
    filter: Mapping[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(chromadb where clauses, residual filter for `matches`)."""
    clauses: list[dict[str, Any]] = []
    residual: dict[str, Any] = {}
    for key, wanted in (filter or {}).items():
        field = FIELD_PREFIX + key
        if is_scalar(wanted):
            clauses.append({field: {"$eq": wanted}})
        elif (
            isinstance(wanted, Mapping)
            and wanted
            and all(
                (op == "$eq" and is_scalar(v)) or (op in _RANGE and is_number(v))
                for op, v in wanted.items()
            )
        ):
            clauses.extend({field: {op: v}} for op, v in wanted.items())
        else:  # $ne (must also match items without the field), None, nested values, lists
            residual[key] = wanted
    return clauses, residual


def clauses_match(metadata: Mapping[str, Any], clauses: Sequence[Mapping[str, Any]]) -> bool:
    """Whether chromadb metadata passes `split_filter`'s clauses, judged as chromadb does
    (booleans and numbers never equal each other; ranges compare numbers only)."""
    for clause in clauses:
        for field, condition in clause.items():
            actual = metadata.get(field)
            for op, operand in condition.items():
                if actual is None or isinstance(actual, bool) != isinstance(operand, bool):
                    return False
                if op == "$eq":
                    if actual != operand or is_number(actual) != is_number(operand):
                        return False
                elif not is_number(actual) or not _operator(actual, op, operand):
                    return False
    return True


def matches(value: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """LangGraph's filter semantics: every field equals (or satisfies) what the filter asks."""
    return all(_compare(value.get(key), wanted) for key, wanted in filter.items())


def _compare(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(actual, op, operand) for op, operand in wanted.items())
        return isinstance(actual, Mapping) and all(
            _compare(actual.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(wanted)
            and all(_compare(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(actual == operand)
    if op == "$ne":
        return bool(actual != operand)
    if op in _RANGE:
        try:
            left, right = float(actual), float(operand)
        except (TypeError, ValueError):
            return False
        return {"$gt": left > right, "$gte": left >= right, "$lt": left < right,
                "$lte": left <= right}[op]  # fmt: skip
    raise ValueError(f"unsupported filter operator {op!r}; use $eq, $ne, $gt, $gte, $lt or $lte")


def namespace_matches(condition: MatchCondition, namespace: Sequence[str]) -> bool:
    """A `list_namespaces` condition: prefix or suffix, where `*` matches any one label."""
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    labels = (
        tuple(namespace[: len(path)])
        if condition.match_type == "prefix"
        else tuple(namespace[len(namespace) - len(path) :])
    )
    if condition.match_type not in ("prefix", "suffix"):
        raise ValueError(f"unsupported match type {condition.match_type!r}")
    return all(p == "*" or p == label for p, label in zip(path, labels, strict=True))


def list_namespaces(
    namespaces: Sequence[tuple[str, ...]],
    conditions: Sequence[MatchCondition] | None,
    max_depth: int | None,
    limit: int,
    offset: int,
) -> list[tuple[str, ...]]:
    """LangGraph's `list_namespaces` over a set of namespaces: filter, truncate, sort, page."""
    kept = [ns for ns in namespaces if all(namespace_matches(c, ns) for c in conditions or ())]
    if max_depth is not None:
        kept = list({ns[:max_depth] for ns in kept})
    return sorted(set(kept))[offset : offset + limit]

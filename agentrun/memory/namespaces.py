"""Namespace labels, and where a namespace's records live in the store.

A namespace is named by labels from the outside in (`[acme, alice]`). Its records live under its
labels followed by one reserved label, `RECORDS` (`acme/alice/_memory/chunks`), and labels that
start with `_` are reserved, so no user label can equal it. Hence the records of `[acme]`
(`acme/_memory/...`) and of `[acme, alice]` (`acme/alice/_memory/...`) never lie under one
another: a prefix search, or a collection named like an inner label, cannot reach from one
namespace into another. Scoped stores, workflow sessions, pipeline tools, ingest and the memory
commands all address the store through `records_prefix`, and the spec and the command line
accept the same labels, checked by `label_problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from langgraph.store.base import InvalidNamespaceError, PutOp, validate_op_namespace
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from agentrun.errors import UsageError

RESERVED_START = "_"
#: The reserved label between a namespace's labels and its records.
RECORDS = "_memory"
CHUNKS = "chunks"
DOCUMENTS = "documents"


def label_problem(label: str) -> str | None:
    """Why `label` cannot name (part of) a namespace or a collection, or None if it can."""
    if not label:
        return "a label cannot be empty"
    if "." in label:
        return f"label {label!r} contains '.', which the store uses between labels"
    if label.startswith(RESERVED_START):
        return (
            f"label {label!r} starts with {RESERVED_START!r}, which is reserved for the store's "
            "own labels; rename it"
        )
    try:
        validate_op_namespace(PutOp((label,), "key", None))
    except InvalidNamespaceError as exc:
        return f"label {label!r} is not allowed by the store: {exc}"
    return None


def namespace_problem(labels: Sequence[str]) -> str | None:
    """Why `labels` cannot name a namespace, or None if they can."""
    if not labels:
        return "a namespace needs at least one label"
    for label in labels:
        problem = label_problem(label)
        if problem:
            return problem
    if labels[0] == "langgraph":
        return "the first label cannot be 'langgraph' (reserved by the store)"
    return None


def check_label(label: str) -> str:
    """`label`, or a `ValueError` saying why it cannot be one (for pydantic fields)."""
    problem = label_problem(label)
    if problem:
        raise ValueError(problem)
    return label


#: A single label, e.g. a collection name.
Label = Annotated[str, AfterValidator(check_label)]


def _as_labels(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ValueError("expected a label or a list of labels, e.g. [acme, alice]")
    return value


def _spec_label(label: str) -> str:
    """A namespace label as a spec writes it; the hint for '.' is in the spec's syntax."""
    problem = label_problem(label)
    if problem and "." in label:
        parts = ", ".join(p for p in label.split(".") if p)
        problem += f"; give several labels as a list, e.g. [{parts}]"
    if problem:
        raise ValueError(problem)
    return label


def _outer_label(labels: list[str]) -> list[str]:
    problem = namespace_problem(labels)
    if problem:
        raise ValueError(problem)
    return labels


_LABEL_SCHEMA = {"type": "string", "minLength": 1, "pattern": r"^[^._\x00][^.\x00]*$"}
#: A namespace in a spec: one label, or a list of labels from the outside in.
Namespace = Annotated[
    list[Annotated[str, AfterValidator(_spec_label)]],
    BeforeValidator(_as_labels),
    AfterValidator(_outer_label),
    Field(min_length=1),
    WithJsonSchema(
        {"anyOf": [_LABEL_SCHEMA, {"type": "array", "items": _LABEL_SCHEMA, "minItems": 1}]}
    ),
]


def shown(labels: Sequence[str]) -> str:
    return "/".join(labels)


def parse_namespace(text: str) -> tuple[str, ...]:
    """Labels written `team/project` (the command line's form)."""
    labels = tuple(text.strip("/").split("/"))
    problem = namespace_problem(labels)
    if problem:
        hint = "; separate labels with /, e.g. team/project" if "." in text else ""
        raise UsageError(f"namespace {text!r} is not valid: {problem}{hint}")
    return labels


def records_prefix(labels: Sequence[str]) -> tuple[str, ...]:
    """Where the records of the namespace `labels` live: everything it keeps is under here."""
    problem = namespace_problem(labels)
    if problem:
        raise UsageError(f"namespace {shown(labels)!r} is not valid: {problem}")
    return (*labels, RECORDS)


def records_ns(labels: Sequence[str], *parts: str) -> tuple[str, ...]:
    """A store namespace inside the records of `labels`, e.g. `(acme, _memory, notes)`."""
    return (*records_prefix(labels), *parts)


def chunks_ns(labels: Sequence[str]) -> tuple[str, ...]:
    """Document chunks (ingested, or split by a workflow) of the namespace `labels`."""
    return records_ns(labels, CHUNKS)


def documents_ns(labels: Sequence[str]) -> tuple[str, ...]:
    """One record per ingested document of the namespace `labels`."""
    return records_ns(labels, DOCUMENTS)


def labels_of(namespace: Sequence[str]) -> tuple[str, ...] | None:
    """The labels whose records hold the store namespace `namespace` (None: no namespace's)."""
    if RECORDS not in namespace:
        return None
    return tuple(namespace[: list(namespace).index(RECORDS)])


def readable_namespace(
    requested: Sequence[str], own: Sequence[str], readable: Sequence[Sequence[str]]
) -> tuple[str, ...]:
    """`requested`, if a pipeline in `own` that may read `readable` (its `memory.read`) may
    read it; else a `UsageError` listing what it may read."""
    labels = tuple(requested)
    allowed = [tuple(own), *(tuple(other) for other in readable)]
    if labels not in allowed:
        choices = ", ".join(f"[{', '.join(other)}]" for other in allowed)
        raise UsageError(
            f"namespace [{', '.join(labels)}] is not one this pipeline may read ({choices}); "
            "list it in the spec's memory.read"
        )
    return labels

"""Namespaces: one rule for labels (spec and command line), and records under a reserved label so
that no namespace reaches into another, an inner one included."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agentrun.cli import run as cli
from agentrun.errors import MemoryStoreError, UsageError
from agentrun.memory import default_store, in_memory_store, scoped
from agentrun.memory.namespaces import (
    RECORDS,
    labels_of,
    parse_namespace,
    records_ns,
    records_prefix,
)
from agentrun.pipeline.spec import MemorySpec


async def test_an_outer_namespace_cannot_reach_an_inner_one() -> None:
    raw = in_memory_store()
    alice = scoped(raw, ("acme", "alice"))
    alices = records_ns(("acme", "alice"), "notes")
    await alice.aput(alices, "k", {"text": "alice's note"})
    acme = scoped(raw, ("acme",))
    for collection in ("alice", "notes", "chunks"):  # whatever it names, it stays in its own
        assert await acme.asearch(records_ns(("acme",), collection)) == []
    assert await acme.asearch(records_prefix(("acme",))) == []
    attempts = [
        acme.asearch(("acme",)),
        acme.asearch(("acme", "alice")),
        acme.aget(alices, "k"),
        acme.aput(alices, "k", {"text": "overwritten"}),
        acme.adelete(alices, "k"),
    ]
    for attempt in attempts:
        with pytest.raises(MemoryStoreError, match="outside this workflow's scope acme"):
            await attempt
    [item] = await alice.asearch(alices)
    assert item.value == {"text": "alice's note"}


def test_no_namespace_holds_the_records_of_another() -> None:
    spaces = [("acme",), ("acme", "alice"), ("acme", "alice", "bob"), ("acme", "chunks")]
    for outer in spaces:
        for inner in spaces:
            if outer != inner:
                prefix = records_prefix(outer)
                assert records_ns(inner, "chunks")[: len(prefix)] != prefix, (outer, inner)
    assert labels_of(records_ns(("acme", "alice"), "chunks")) == ("acme", "alice")
    assert labels_of(("acme", "chunks")) is None


@pytest.mark.parametrize("labels", [("acme", RECORDS), (RECORDS,), ("a.b",), ("",), ()])
def test_a_store_namespace_from_reserved_or_bad_labels_is_refused(labels: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match="is not valid"):
        records_prefix(labels)
    with pytest.raises((UsageError, MemoryStoreError)):
        scoped(in_memory_store(), labels)


async def test_namespaces_to_read_are_read_only() -> None:
    raw = in_memory_store()
    shared = records_ns(("acme", "shared"), "notes")
    await raw.aput(shared, "k", {"text": "for everyone"})
    acme = scoped(raw, ("acme",), readable=[("acme", "shared")])
    assert [item.key for item in await acme.asearch(shared)] == ["k"]
    assert (await acme.aget(shared, "k")) is not None
    for attempt in (acme.aput(shared, "k", {"text": "changed"}), acme.adelete(shared, "k")):
        with pytest.raises(MemoryStoreError, match="outside this workflow's scope"):
            await attempt
    with pytest.raises(MemoryStoreError):
        await acme.asearch(records_ns(("acme", "other"), "notes"))


LABELS = [
    ("team", True),
    ("my team", True),
    ("Ünïcode-label_2", True),
    ("team.alpha", False),
    ("", False),
    ("_memory", False),
    ("_private", False),
    ("langgraph", False),
]


@pytest.mark.parametrize(("label", "valid"), LABELS, ids=[label or "empty" for label, _ in LABELS])
def test_the_command_line_and_the_spec_accept_the_same_labels(
    label: str, valid: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        MemorySpec.model_validate({"namespace": label, "backend": "memory"})
        in_spec = True
    except ValidationError:
        in_spec = False
    try:
        parse_namespace(label)
        parsed = True
    except UsageError:
        parsed = False
    assert in_spec == parsed == valid
    if not valid:
        assert cli(["memory", "rm", "x", "--namespace", label]) == 2
        assert f"namespace {label!r} is not valid" in capsys.readouterr().err


def test_an_inner_label_may_not_be_reserved_either() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        MemorySpec.model_validate({"namespace": ["acme", "_memory"]})
    with pytest.raises(UsageError, match="reserved"):
        parse_namespace("acme/_memory")


def test_memory_ls_points_at_documents_kept_in_the_older_layout(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with default_store(data_dir) as store:
        store.put(("team", "documents"), "k", {"source": "/notes.md"}, index=False)
    assert cli(["memory", "ls"]) == 0
    out = capsys.readouterr().out
    assert "kept by an older agentrun, which nothing reads now, in: team; ingest them" in out

"""A pipeline's memory tools reach only its own namespace (not one inside it), or one its spec
lists to read; collections and namespaces from input cannot widen that, and bad ones exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.memory import InMemoryStore

from agentrun.cli import run as cli
from agentrun.errors import SpecError, UsageError
from agentrun.pipeline import Pipeline

HEAD = "version: agentrun/v1\nname: t\nmodels:\n  default: {model: fake/t}\n"
SECRET = "alice keeps the vault code 7319"


def pipeline(tmp_path: Path, namespace: str, nodes: str, extra: str = "") -> Pipeline:
    path = tmp_path / f"p{len(list(tmp_path.glob('p*.yaml')))}.yaml"
    memory = f"memory:\n  namespace: {namespace}\n{extra}"
    path.write_text(HEAD + memory + "inputs:\n  c: {type: string, default: alice}\n" + nodes)
    return Pipeline.load(path)


def put(text: str, collection: str = "notes") -> str:
    return (
        "nodes:\n  - id: keep\n    tool:\n      name: memory.put\n"
        f"      args: {{key: k, text: '{text}', collection: '{collection}'}}\n"
    )


def search(collection: str = "notes", namespace: str | None = None) -> str:
    where = f", namespace: {namespace}" if namespace else ""
    return (
        "nodes:\n  - id: find\n    tool:\n      name: memory.search\n"
        f"      args: {{query: vault, collection: '{collection}'{where}}}\n"
    )


def texts(result: object) -> list[str]:
    return [hit["text"] for hit in result.results["find"]]  # type: ignore[attr-defined]


@pytest.fixture
def store(tmp_path: Path, data_dir: Path) -> InMemoryStore:
    """A store in which the pipelines [acme, alice] and [acme, notes] each kept a note."""
    shared = InMemoryStore()
    for inner in ("[acme, alice]", "[acme, notes]"):
        pipeline(tmp_path, inner, put(SECRET)).run({}, store=shared, data_dir=data_dir)
    return shared


@pytest.mark.parametrize("collection", ["alice", "notes", "{{ inputs.c }}"])
def test_an_outer_pipeline_cannot_read_an_inner_ones_memory(
    collection: str, store: InMemoryStore, tmp_path: Path, data_dir: Path
) -> None:
    outer = pipeline(tmp_path, "acme", search(collection))
    result = outer.run({}, store=store, data_dir=data_dir)
    assert SECRET not in str(result.results)
    inner = pipeline(tmp_path, "[acme, alice]", search())
    assert texts(inner.run({}, store=store, data_dir=data_dir)) == [SECRET]


@pytest.mark.parametrize("collection", ["alice", "{{ inputs.c }}"])
def test_an_outer_pipeline_cannot_write_into_an_inner_ones_memory(
    collection: str, store: InMemoryStore, tmp_path: Path, data_dir: Path
) -> None:
    outer = pipeline(tmp_path, "acme", put("planted", collection))
    outer.run({}, store=store, data_dir=data_dir)
    under_alice = store.search(("acme", "alice"), limit=100)
    assert [item.value["text"] for item in under_alice] == [SECRET]


BAD = [("a.b", "contains '.'"), ("", "cannot be empty"), ("_memory", "reserved")]


@pytest.mark.parametrize(("name", "problem"), BAD, ids=["dot", "empty", "reserved"])
def test_a_bad_literal_collection_is_a_spec_error(
    name: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for nodes in (search(name), put("x", name)):
        with pytest.raises(SpecError, match=r":\d+:\d+: tool memory\.\w+ argument collection: "):
            pipeline(tmp_path, "acme", nodes)
    assert cli(["validate", str(tmp_path / "p0.yaml")]) == 2
    err = capsys.readouterr().err
    assert "argument collection" in err and problem in err


@pytest.mark.parametrize(("name", "problem"), BAD, ids=["dot", "empty", "reserved"])
def test_a_bad_collection_from_input_is_a_usage_error_naming_node_and_argument(
    name: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = pipeline(tmp_path, "acme", search("{{ inputs.c }}"), "  backend: memory\n")
    with pytest.raises(UsageError, match=r"node find: memory.search argument collection: "):
        spec.run({"c": name})
    assert cli(["run", str(spec.path), "--input", f"c={name}"]) == 2
    err = capsys.readouterr().err
    assert "node find: memory.search argument collection" in err and problem in err
    assert "Traceback" not in err


def test_a_namespace_the_spec_lists_can_be_read_and_no_other(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = InMemoryStore()
    for labels in ("[acme, shared]", "[acme, bob]"):
        pipeline(tmp_path, labels, put(f"{labels} vault")).run({}, store=shared)
    reads = "  read: [[acme, shared]]\n"
    reader = pipeline(tmp_path, "acme", search(namespace="[acme, shared]"), reads)
    assert texts(reader.run({}, store=shared, data_dir=data_dir)) == ["[acme, shared] vault"]
    with pytest.raises(SpecError, match=r"argument namespace: namespace \[acme, bob\] is not"):
        pipeline(tmp_path, "acme", search(namespace="[acme, bob]"), reads)
    with pytest.raises(SpecError, match=r"namespace \[acme, shared\] is not one this pipeline"):
        pipeline(tmp_path, "acme", search(namespace="[acme, shared]"))
    from_input = pipeline(tmp_path, "acme", search(namespace="[acme, '{{ inputs.c }}']"), reads)
    assert texts(from_input.run({"c": "shared"}, store=shared)) == ["[acme, shared] vault"]
    with pytest.raises(UsageError, match=r"node find: memory.search: namespace \[acme, bob\]"):
        from_input.run({"c": "bob"}, store=shared)
    with pytest.raises(UsageError, match=r"node find: memory.search argument namespace"):
        from_input.run({"c": "_memory"}, store=shared)


def test_documents_ingested_for_a_namespace_are_found_by_its_pipelines(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "vault.md"
    doc.write_text("The vault under the harbour office opens with code 7319.\n", "utf-8")
    assert cli(["memory", "ingest", str(doc), "-n", "acme"]) == 0
    found = pipeline(tmp_path, "acme", search("chunks")).run({}, data_dir=data_dir)
    assert [hit["source"] for hit in found.results["find"]] == [str(doc)]
    inner = pipeline(tmp_path, "[acme, alice]", search("chunks")).run({}, data_dir=data_dir)
    assert inner.results["find"] == []
    assert cli(["memory", "ls", "-n", "acme/alice"]) == 0
    assert "other namespaces with documents: acme" in capsys.readouterr().out

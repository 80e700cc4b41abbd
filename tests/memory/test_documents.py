"""Document ids and stored documents belong to the memory store: ingest and workflows name the
same text the same way, and nothing in the store's package reaches up into the workflows."""

from __future__ import annotations

import ast
import hashlib
import tracemalloc
from pathlib import Path

from agentrun.memory import FakeEmbedder, in_memory_store
from agentrun.memory.documents import DOC_ID_CHARS, StoredDocument, document_id, load_text
from agentrun.memory.ingest import Ingester

MEMORY = Path(__file__).parents[2] / "agentrun" / "memory"


async def test_an_ingested_file_has_the_id_of_its_text_and_reads_back(tmp_path: Path) -> None:
    text = "\n\n".join(f"Pier {i} was rebuilt in {1900 + i}; its lamp burns." for i in range(40))
    path = tmp_path / "piers.md"
    path.write_text(text, encoding="utf-8")
    store = in_memory_store()
    (outcome,) = await Ingester(store, FakeEmbedder(), chunk_tokens=40).ingest([path])
    assert outcome.doc_id == document_id(text) != document_id(text + " ")
    stored = StoredDocument(outcome.doc_id, split="ingest-40")
    assert await load_text(store, ("default",), stored) == text


def test_the_memory_package_imports_no_workflow_module() -> None:
    imported: list[str] = []
    for module in sorted(MEMORY.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported += [f"{module.name}: {node.module}"]
            elif isinstance(node, ast.Import):
                imported += [f"{module.name}: {alias.name}" for alias in node.names]
    assert imported and not [line for line in imported if "agentrun.graphs" in line]


def test_a_long_document_is_hashed_without_a_copy_of_it() -> None:
    text = "é harbour " * 1_000_000  # 10 million characters, some of two bytes
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()[:DOC_ID_CHARS]
    tracemalloc.start()
    try:
        found = document_id(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == expected
    assert peak < len(text) / 2  # the whole text in UTF-8 would be 11 MB

"""Reading a pipeline file safely, keeping where every value came from.

Only plain YAML is accepted: one document, standard tags (no `!!python/...`), no alias bombs,
no nesting deeper than `MAX_DEPTH`, no duplicate keys, UTF-8 text. Every value's line and column
are kept, so each problem found later, by pydantic or
by the pipeline checks, is reported as `file:line:column: what was found, what was expected`.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from agentrun.errors import SpecError

MAX_FILE_BYTES = 1_000_000
#: Nodes a document may expand to once aliases are followed (a billion-laughs guard).
MAX_EXPANDED_NODES = 50_000
#: Collections inside one another (flow brackets, block mappings and sequences, mixed).
MAX_DEPTH = 200
STANDARD_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    line: int
    column: int
    block: bool = False  # a `|` or `>` scalar: its text starts on the next line


@dataclass
class Problem:
    path: PathKey
    message: str
    location: Location | None = None


@dataclass
class SourceMap:
    """Where each value (by its path of keys and indexes) starts in the file."""

    file: str
    locations: dict[PathKey, Location] = field(default_factory=dict)
    #: Block scalars (`|`, `>`): the file's lines of their text, for positions inside them.
    blocks: dict[PathKey, list[tuple[int, str]]] = field(default_factory=dict)

    def locate(self, path: typing.Sequence[str | int]) -> Location | None:
        """The location of `path`, or of its nearest ancestor that the file has."""
        best = self.locations.get(())
        current: PathKey = ()
        for part in path:
            candidate = (*current, part)
            if candidate in self.locations:
                current = candidate
                best = self.locations[candidate]
        return best

    def in_block(self, path: PathKey, text: str, line: int, column: int) -> Location | None:
        """Where line/column of the value `text` at `path` is in the file, if `path` is a block
        scalar. Its non-blank characters are the file's, in order (a block scalar has no
        escapes; folding and indentation change only whitespace), so counting them maps the
        position back."""
        lines = self.blocks.get(tuple(path))
        rows = text.split("\n")
        if lines is None or not 0 < line <= len(rows):
            return None
        before = "\n".join([*rows[: line - 1], rows[line - 1][: column - 1]])
        wanted = sum(1 for char in before if not char.isspace())
        seen = 0
        for number, content in lines:
            for index, char in enumerate(content):
                if char.isspace():
                    continue
                if seen == wanted:
                    return Location(number, index + 1)
                seen += 1
        return None

    def where(self, location: Location | None) -> str:
        return f"{self.file}:{location.line}:{location.column}" if location else self.file


def _mark(node: yaml.Node) -> Location:
    return Location(node.start_mark.line + 1, node.start_mark.column + 1)


#: What YAML counts as a line break (PyYAML's marks count lines the same way).
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _at(file: str, mark: Any) -> str:
    """`file:line:column` of a PyYAML mark (0-based), or the file alone."""
    return f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file


def _too_deep(file: str, mark: Any, how: str = "") -> SpecError:
    return SpecError(
        f"{_at(file, mark)}: nesting deeper than {MAX_DEPTH} levels{how}; flatten the structure"
    )


class _SpecLoader(yaml.SafeLoader):
    """The safe loader, bounded in depth and strict about duplicate keys.

    PyYAML composes and checks nodes recursively, so a deep document would exhaust Python's
    stack before any check of the node tree could run. The parser underneath is iterative:
    counting depth on its events as the composer takes them stops at the first collection past
    the limit, whether flow or block, with the composer's recursion still shallow.
    """

    def __init__(self, text: str, file: str, depth: int = 0) -> None:
        super().__init__(text)
        self.file = file
        self.depth = depth

    def get_event(self) -> yaml.Event:
        event: yaml.Event = super().get_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.CollectionStartEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _too_deep(self.file, event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            self.depth -= 1
        return event

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """YAML keeps the last of two equal keys without a word; here that is an error."""
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, typing.Hashable):
                break  # PyYAML's own error names it
            if key in first:
                raise SpecError(
                    f"{_at(self.file, key_node.start_mark)}: duplicate key {key!r} "
                    f"(first at line {first[key].line + 1}); keep one of them"
                )
            first[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _check_nodes(root: yaml.Node, file: str, depth: int) -> None:
    """Refuse non-standard tags, and documents that explode or nest too deep once aliases are
    expanded (the composer saw each anchored node only once, where it was written)."""
    #: Per node: the values it expands to, and the levels of collections inside it.
    shapes: dict[int, tuple[int, int]] = {}
    inside: set[int] = set()  # the collections being measured: an alias to one is a cycle

    def shape(node: yaml.Node, depth: int) -> tuple[int, int]:
        if node.tag not in STANDARD_TAGS:
            where = _mark(node)
            raise SpecError(
                f"{file}:{where.line}:{where.column}: YAML tag {node.tag!r} is not allowed; "
                "pipelines are plain data (remove the tag)"
            )
        known = shapes.get(id(node))
        if known is None:
            if id(node) in inside:
                where = _mark(node)
                raise SpecError(
                    f"{file}:{where.line}:{where.column}: an alias refers to the collection it "
                    "is in, so the value would contain itself; copy the values instead"
                )
            inside.add(id(node))
            children: list[yaml.Node] = []
            if isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            inner = [shape(child, depth + 1) for child in children]
            known = (1 + sum(s for s, _ in inner), max((h + 1 for _, h in inner), default=0))
            shapes[id(node)] = known
            inside.discard(id(node))
        total, height = known
        if depth + height > MAX_DEPTH:
            raise _too_deep(file, node.start_mark, " once aliases are expanded")
        if total > MAX_EXPANDED_NODES:
            where = _mark(node)
            raise SpecError(
                f"{file}:{where.line}:{where.column}: the document expands to more than "
                f"{MAX_EXPANDED_NODES} values through aliases; write it out plainly"
            )
        return known

    shape(root, depth)


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")


def _map_locations(node: yaml.Node, path: PathKey, source: SourceMap, lines: list[str]) -> None:
    source.locations.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(_mark(key))
            where = _mark(key)
            block = _is_block(value)
            source.locations[(*path, name)] = Location(where.line, where.column, block)
            if block:  # its text: from the line after the `|` or `>` to where the value ends
                first, last = value.start_mark.line + 1, min(value.end_mark.line + 1, len(lines))
                source.blocks[(*path, name)] = [(n + 1, lines[n]) for n in range(first, last)]
            _map_locations(value, (*path, name), source, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_locations(item, (*path, index), source, lines)


def read_text(path: Path) -> str:
    """The file's text; clear errors for missing, empty, binary or oversized files."""
    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(
            f"{path}: {len(data)} bytes, over the {MAX_FILE_BYTES}-byte limit for a spec"
        )
    if b"\x00" in data:
        raise SpecError(f"{path}: binary file (NUL bytes); a pipeline is a YAML text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    if not text.strip():
        raise SpecError(f"{path}: the file is empty; a pipeline starts with `version: agentrun/v1`")
    return text


def _parse(text: str, file: str, depth: int) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document and its root node (None for no document)."""
    try:
        loader = _SpecLoader(text, file, depth)  # its reader checks every character first
    except yaml.reader.ReaderError as exc:
        raise _not_printable(text, file, exc) from exc
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_nodes(root, file, depth)
        return loader.construct_document(root), root
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError(
            f"{_at(file, mark)}: invalid YAML: {exc.problem or exc.context}; check the "
            "indentation, quotes and brackets up to there"
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}: invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _not_printable(text: str, file: str, exc: yaml.reader.ReaderError) -> SpecError:
    """YAML allows no control characters but tab and line breaks, even inside quotes."""
    lines = LINE_BREAK.split(text[: exc.position])
    where = f"{file}:{len(lines)}:{len(lines[-1]) + 1}"
    return SpecError(
        f"{where}: invalid YAML: character U+{exc.character:04X} is not allowed in YAML; "
        f'remove it, or write it as "\\u{exc.character:04x}" inside double quotes'
    )


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document with the safe loader; return the data and its source map."""
    data, root = _parse(text, file, 0)
    if root is None:
        raise SpecError(f"{file}: the file has no YAML document, only comments; write it in")
    source = SourceMap(file)
    _map_locations(root, (), source, LINE_BREAK.split(text))
    return data, source


def load_value(text: str, origin: str, depth: int = 0) -> Any:
    """A YAML value given on the command line (`--set`, a list input), held to the same rules
    as a spec file; `depth` is how deep it will sit in the data it joins."""
    return _parse(text, origin, depth)[0]


# --- pydantic errors as file:line:column messages ----------------------------------------------


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, list, dict, unions)."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _unwrap(arg)]
    if origin in (list, tuple, set, dict):
        args = get_args(annotation)
        return _unwrap(args[-1]) if args else []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(root: type[BaseModel], loc: typing.Sequence[str | int]) -> type[BaseModel] | None:
    """The model whose fields an error location points into (best effort)."""
    current: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in current:
            fields = {(f.alias or name): f for name, f in model.model_fields.items()}
            fields.update(model.model_fields)
            if part in fields:
                nxt.extend(_unwrap(fields[part].annotation))
        if not nxt:
            tagged = [m for m in current if _tag_of(m) == part]
            if tagged:
                continue
            narrowed = [m for model in current for m in _unwrap_members(model, part)]
            nxt = narrowed
        if not nxt:
            return current[0] if len(current) == 1 else None
        current = nxt
    return current[0] if len(current) == 1 else None


def _tag_of(model: type[BaseModel]) -> str | None:
    field_ = model.model_fields.get("type")
    args = get_args(field_.annotation) if field_ is not None else ()
    return str(args[0]) if len(args) == 1 else None


def _unwrap_members(model: type[BaseModel], tag: str | int) -> list[type[BaseModel]]:
    return [model] if _tag_of(model) == tag else []


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def describe(error: Any, root: type[BaseModel]) -> str:
    """One readable sentence for one pydantic error: what was found and what was expected."""
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    where = ".".join(str(p) for p in loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        key = str(loc[-1])
        if parent is not None:
            names = _field_names(parent)
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"{where}: unknown key {key!r}; expected one of: {', '.join(names)}{hint}"
        return f"{where}: unknown key {key!r}"
    if kind == "missing":
        return f"{where}: required, but missing; add `{loc[-1] if loc else where}:`"
    if kind == "union_tag_invalid":
        return f"{where}: {error['msg']}"
    found = error.get("input")
    if isinstance(found, str):
        found = _URL_PASSWORD.sub(r"\1:***@", found)  # never echo a password
    shown = repr(found) if not isinstance(found, dict | list) else type(found).__name__
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(root, loc)
        keys = f" ({', '.join(_field_names(model))})" if model is not None else ""
        return f"{where}: should be a mapping of its settings{keys} (found {shown})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message} (found {shown})"


#: The password of a URL (`scheme://user:password@host`).
_URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]*):[^@/\s]+@")


def validation_problems(
    exc: ValidationError, root: type[BaseModel], source: SourceMap
) -> list[str]:
    lines = []
    for error in exc.errors():
        location = source.locate([p for p in error["loc"] if isinstance(p, str | int)])
        lines.append(f"{source.where(location)}: {describe(error, root)}")
    return lines

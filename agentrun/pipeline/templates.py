"""Prompt templates: Jinja2 in a sandbox, reduced to what prompts need.

Allowed: variables, attribute and item access, `for` and `if`, literals, comparisons and a short
list of harmless filters and tests. Everything else (calls, dunder or private attributes,
`import`, `set`, macros, includes, unknown filters) is refused when the spec is validated, with
the template's name, line and the construct. A variable missing at run time is an error that
names the template and the variable (undefined values are never rendered as empty).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from agentrun.errors import RunFailedError

ALLOWED_FILTERS = frozenset(
    {
        "abs", "capitalize", "default", "first", "float", "int", "join", "last", "length",
        "lower", "replace", "round", "string", "title", "trim", "truncate", "upper", "wordcount",
        "list", "sort", "unique", "min", "max", "sum", "tojson", "indent", "center", "batch",
        "slice", "reverse",
    }
)  # fmt: skip
ALLOWED_TESTS = frozenset(
    {"defined", "undefined", "none", "number", "string", "mapping", "sequence", "boolean",
     "true", "false", "even", "odd", "divisibleby", "in", "eq", "ne", "lt", "le", "gt", "ge"}
)  # fmt: skip
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.For, nodes.If, nodes.Filter, nodes.Test, nodes.Compare,
    nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.CondExpr, nodes.List, nodes.Tuple,
    nodes.Dict, nodes.Pair, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
    nodes.FloorDiv, nodes.Mod, nodes.Neg, nodes.Pos, nodes.Keyword,
)  # fmt: skip
_CONSTRUCT_NAMES = {
    nodes.Call: "a function or method call",
    nodes.Macro: "a macro",
    nodes.CallBlock: "a call block",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.FilterBlock: "a filter block",
    nodes.With: "with",
    nodes.Block: "block",
    nodes.Scope: "a scope",
}


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    message: str
    column: int = 1  # in the template's line, 1-based


class _PromptEnvironment(SandboxedEnvironment):
    """`inputs.items` means the input called `items`, not the dict method of that name."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@functools.cache
def environment() -> SandboxedEnvironment:
    env = _PromptEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters = {name: f for name, f in env.filters.items() if name in ALLOWED_FILTERS}
    env.tests = {name: t for name, t in env.tests.items() if name in ALLOWED_TESTS}
    env.globals.clear()
    return env


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """A template compiled once per process: a pipeline renders the same few for every run and
    every item of a batch (compiling is most of rendering's cost)."""
    return environment().from_string(source)


@functools.lru_cache(maxsize=1024)
def _compiled_expression(source: str) -> Any:
    return environment().compile_expression(source, undefined_to_none=False)


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    """Every node of a tree, without recursion (a long chain of operators is a deep tree)."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(reversed(list(current.iter_child_nodes())))


#: Jinja parses and compiles recursively, and Python's compiler bounds nesting of its own.
TOO_DEEP = "nested too deeply for the template engine; split it up"
_ENGINE_LIMITS = (RecursionError, SyntaxError)


_STATEMENT_WORDS = {
    nodes.Macro: "macro", nodes.CallBlock: "call", nodes.Import: "import",
    nodes.FromImport: "from", nodes.Include: "include", nodes.Extends: "extends",
    nodes.Assign: "set", nodes.AssignBlock: "set", nodes.FilterBlock: "filter",
    nodes.With: "with", nodes.Block: "block",
}  # fmt: skip


def column(source: str, line: int, pattern: str) -> int:
    """The 1-based column where `pattern` first matches on `line` of `source` (where Jinja,
    which keeps only line numbers, found a construct); else the line's first `{{` or `{%`."""
    lines = source.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    found = re.search(pattern, text) or re.search(r"\{[{%]", text)
    return found.start() + 1 if found else 1


def _pattern(node: nodes.Node) -> str:
    """A regular expression for the source text of a construct."""
    if isinstance(node, nodes.Getattr):
        return rf"\.\s*{re.escape(node.attr)}\b"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return re.escape(str(node.arg.value))
    if isinstance(node, nodes.Filter):
        return rf"\|\s*{re.escape(node.name)}\b"
    if isinstance(node, nodes.Test):
        return rf"\bis\s+(?:not\s+)?{re.escape(node.name)}\b"
    if isinstance(node, nodes.Call):
        callee = node.node
        if isinstance(callee, nodes.Name):
            return rf"\b{re.escape(callee.name)}\s*\("
        if isinstance(callee, nodes.Getattr):
            return rf"\.\s*{re.escape(callee.attr)}\s*\("
        return r"\("
    word = next((w for kind, w in _STATEMENT_WORDS.items() if isinstance(node, kind)), None)
    return rf"\{{%[-+]?\s*{word}\b" if word else r"\{[{%]"


def _too_deep(source: str) -> TemplateProblem:
    return TemplateProblem(1, TOO_DEEP, column(source, 1, r"\{[{%]"))


def check(source: str) -> list[TemplateProblem]:
    """Every construct the template may not use; empty when it is fine."""
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        line = exc.lineno
        message = (
            f"template syntax error: {exc.message}; fix the {{{{ }}}} or {{% %}} markup, "
            "or write {{ '{{' }} for literal braces"
        )
        return [TemplateProblem(line, message, column(source, line, r"\{[{%]"))]
    except _ENGINE_LIMITS:
        return [_too_deep(source)]
    problems: list[TemplateProblem] = []

    def problem(node: nodes.Node, message: str) -> None:
        line = getattr(node, "lineno", 1) or 1
        problems.append(TemplateProblem(line, message, column(source, line, _pattern(node))))

    for node in _walk(tree):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problem(node, f"attribute {node.attr!r} is private; not allowed")
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and str(node.arg.value).startswith("__")
        ):
            problem(node, f"item {node.arg.value!r} is private; not allowed")
        elif isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            allowed = ", ".join(sorted(ALLOWED_FILTERS))
            problem(node, f"filter {node.name!r} is not allowed; allowed: {allowed}")
        elif isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            problem(node, f"test {node.name!r} is not allowed")
        elif not isinstance(node, _ALLOWED_NODES):
            construct = next(
                (name for kind, name in _CONSTRUCT_NAMES.items() if isinstance(node, kind)),
                type(node).__name__,
            )
            problem(node, f"{construct} is not allowed in templates")
    if not problems:
        try:  # as rendering will, so that the engine's own limits are met now
            environment().compile(source)
        except _ENGINE_LIMITS:
            problems.append(_too_deep(source))
    return problems


def as_template(expression: str) -> str:
    """A bare expression as a template; its text starts at `EXPRESSION_SHIFT` on line 1."""
    return "{{ " + expression + " }}"


EXPRESSION_SHIFT = 3


def check_expression(source: str) -> list[TemplateProblem]:
    """Like `check`, for a bare expression such as a `when:` condition or a `for_each:` list
    (columns are those of the expression's own text)."""
    return [
        TemplateProblem(p.line, p.message, max(1, p.column - EXPRESSION_SHIFT))
        if p.line == 1
        else p
        for p in check(as_template(source))
    ]


def variables(source: str) -> set[str]:
    """Top-level names a template reads (loop variables excluded)."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(environment().parse(source)))


def render(source: str, context: Mapping[str, Any], *, name: str) -> str:
    """Render a checked template; a missing variable names the template and the variable."""
    try:
        return _compiled(source).render(**context)
    except jinja2.UndefinedError as exc:
        raise RunFailedError(f"template {name}: {exc.message}; check the names it uses") from exc
    except jinja2.TemplateError as exc:
        raise RunFailedError(f"template {name}: {exc}") from exc
    except _ENGINE_LIMITS:
        raise RunFailedError(f"template {name}: {TOO_DEEP}") from None


def evaluate(source: str, context: Mapping[str, Any], *, name: str) -> Any:
    """Evaluate a checked expression (conditions, fan-out lists) to a Python value."""
    try:
        return _compiled_expression(source)(**context)
    except jinja2.UndefinedError as exc:
        raise RunFailedError(f"expression {name}: {exc.message}; check the names it uses") from exc
    except jinja2.TemplateError as exc:
        raise RunFailedError(f"expression {name}: {exc}") from exc
    except _ENGINE_LIMITS:
        raise RunFailedError(f"expression {name}: {TOO_DEEP}") from None

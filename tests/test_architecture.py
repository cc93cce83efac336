"""The shape of the code, checked: imports between our modules form no circle, an import inside
a function says what it avoids, and the training app reads labels only through labeling's
selectors. Read from the source files (ast), so nothing is imported or run."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("labeling", "training", "webapp")


def source_files() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in source_files()}


def resolve(name: str) -> str | None:
    """The module of ours that `import name` loads (the deepest that exists), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The names an import statement loads, absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        base = ".".join(
            package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
        )
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: at top level, or in a top-level if/try block."""
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            stack.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                stack.extend(handler.body)


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text())
        targets = {
            resolve(target) for node in module_level_imports(tree) for target in imported(node, package)
        }
        graph[name] = {target for target in targets if target is not None and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_of_ours_imports_itself_back_through_others():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_the_imports_between_runs_and_strategies():
    graph = import_graph()
    assert "training.strategies" in graph["training.runs.create"]
    assert "training.runs.spec" in graph["training.strategies.labels"]


def function_import_blocks(tree: ast.Module) -> Iterator[list[ast.Import | ast.ImportFrom]]:
    """Runs of consecutive import statements inside functions."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for body in (inner.body for inner in ast.walk(node) if hasattr(inner, "body")):
            block: list[ast.Import | ast.ImportFrom] = []
            for statement in [*body, None] if isinstance(body, list) else []:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    block.append(statement)
                    continue
                if block:
                    yield block
                block = []


def explained(block: list[ast.Import | ast.ImportFrom], lines: list[str]) -> bool:
    """A comment on the line above the block, or on one of its lines, says why it is here."""
    first, last = block[0].lineno, block[-1].end_lineno or block[-1].lineno
    above = lines[first - 2].strip() if first >= 2 else ""
    return above.startswith("#") or any("#" in line for line in lines[first - 1 : last])


def test_an_import_inside_a_function_says_what_it_avoids():
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for block in function_import_blocks(ast.parse("\n".join(lines))):
            if not explained(block, lines):
                unexplained.append(f"{name}:{block[0].lineno}: {lines[block[0].lineno - 1].strip()}")
    assert not unexplained, "function-local imports without a comment saying why:\n" + "\n".join(unexplained)


def test_an_unexplained_import_in_a_function_is_found():
    lines = "def f():\n    x = 1\n    import os\n    import sys\n    return os, sys\n".splitlines()
    (block,) = function_import_blocks(ast.parse("\n".join(lines)))
    assert len(block) == 2 and not explained(block, lines)
    lines[1] = "    # os is slow to import"
    assert explained(block, lines)


# Tables of the labeling app, and the relations that reach them from an object.
LABELING_QUERY = re.compile(
    r"\b(Annotation|AnnotationRevision|Channel|Image|LabelClass|Membership|Project|SourceFile)\.objects\b"
    r"|\.(annotations|channels|revisions|classes|memberships|images)\."
    r"(all|filter|get|exclude|order_by|values|values_list|count|exists|select_related|prefetch_related|first)\("
)


@pytest.mark.parametrize("app", ["training"])
def test_the_training_app_reads_labels_only_through_the_selectors(app):
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, path in MODULES.items()
        if name.startswith(app + ".") and not name.startswith(("training.ml", "training.bench"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if LABELING_QUERY.search(line)
    ]
    assert not found, "queries of labeling's tables outside labeling/selectors.py:\n" + "\n".join(found)


def test_the_selector_check_catches_a_direct_query():
    assert LABELING_QUERY.search("Annotation.objects.filter(image=image)")
    assert LABELING_QUERY.search("names = image.channels.values_list('name')")
    assert not LABELING_QUERY.search("selectors.channel_names([image.pk])")

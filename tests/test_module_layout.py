"""The shape of updates/: the write path (services, and what tells readers) reads nothing
back and caches nothing; serialize only shapes data; answers compose reads, shapes and
caches for the views."""

import ast
from pathlib import Path

import updates

PACKAGE = Path(updates.__file__).parent


def imported_by(module: str) -> set[str]:
    """The modules of updates/ that `module` imports, wherever in the file."""
    tree = ast.parse((PACKAGE / f"{module.removeprefix('updates.')}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "updates":
            found |= {f"updates.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("updates."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("updates.")}
    return {name for name in found if (PACKAGE / f"{name.removeprefix('updates.')}.py").exists()}


def reachable_from(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported_by(current))
    return seen


def test_the_write_path_imports_neither_reads_nor_caches():
    write_path = reachable_from("updates.services")
    assert {"updates.broadcast", "updates.serialize"} <= write_path  # the search works
    assert write_path.isdisjoint({"updates.selectors", "updates.answers", "updates.cache_keys"})


def test_serialize_only_shapes_data():
    assert reachable_from("updates.serialize") == {
        "updates.serialize",
        "updates.models",
        "updates.sanitize",
    }

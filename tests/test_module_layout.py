"""The shape of updates/: the write path (services, and what tells readers) reads nothing
back and caches nothing; serialize only shapes data; answers compose reads, shapes and
caches for the views; a reader's join walks one way through updates/live/, whose
modules keep no state of their own."""

import ast
from pathlib import Path

import updates

ROOT = Path(updates.__file__).parent.parent


def source_of(module: str) -> Path:
    path = ROOT / module.replace(".", "/")
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def is_ours(module: str) -> bool:
    return module.split(".")[0] == "updates" and source_of(module).exists()


def imported_by(module: str) -> set[str]:
    """The modules of updates/ that `module` imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(source_of(module).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if is_ours(name) and source_of(name).name != "__init__.py"}


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
    assert {"updates.live.broadcast", "updates.serialize"} <= write_path  # the search works
    assert write_path.isdisjoint({"updates.selectors", "updates.answers", "updates.cache_keys"})


def test_serialize_only_shapes_data():
    # pictures: the addresses of a picture's stored renditions.
    assert reachable_from("updates.serialize") == {
        "updates.serialize",
        "updates.models",
        "updates.sanitize",
        "updates.pictures",
    }


def test_a_reader_joining_walks_one_way():
    # The consumer asks joining, joining asks delivery, and nothing asks back.
    assert "updates.live.joining" in imported_by("updates.live.consumers")
    assert "updates.live.delivery" in imported_by("updates.live.joining")
    assert reachable_from("updates.live.delivery").isdisjoint(
        {"updates.live.joining", "updates.live.consumers"}
    )


def test_the_live_modules_keep_their_state_in_the_runtime():
    # Only the runtime's accessor rebinds a module global; everything else a process
    # keeps is an attribute of the runtime (updates/live/runtime.py).
    rebinding = {
        path.name
        for path in (ROOT / "updates" / "live").glob("*.py")
        if any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(path.read_text())))
    }
    assert rebinding == {"runtime.py"}

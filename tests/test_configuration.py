"""Every variable the code reads from the environment is listed in .env.example.

The variables are found by reading the code, not from a list kept here: a variable
someone adds to the code fails this test until .env.example explains it.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
CODE_DIRECTORIES = ("liveblog", "updates", "deploy")
# The helpers themselves read os.environ with the name they are given.
HELPERS_MODULE = BASE_DIR / "liveblog" / "env.py"
# Theirs: env_str("DEBUG"), env_bool(...), ...
ENV_HELPERS = {
    node.name
    for node in ast.parse(HELPERS_MODULE.read_text()).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("env_")
}
NOT_SETTINGS = {
    # Django's own: manage.py, asgi.py and wsgi.py set it to liveblog.settings when it is
    # unset, and nothing but the benchmarks (bench/settings_uncached.py) points it
    # elsewhere. A deployment has nothing to choose there.
    "DJANGO_SETTINGS_MODULE",
    # systemd's own, in ExecReload= of deploy/liveblog-http.service.
    "MAINPID",
}
# $NAME or ${NAME}, upper case: a shell's lower-case locals and $(...) are not settings.
SHELL_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
SYSTEMD_ENVIRONMENT = re.compile(r"^Environment=\"?([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
EXAMPLE_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def is_environ(node: ast.expr) -> bool:
    """os.environ, or environ imported from os (not a WSGI request's environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def name_read(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable, if node reads one from the environment."""
    if isinstance(node, ast.Call) and node.args:
        function = node.func
        if isinstance(function, ast.Name) and function.id in ENV_HELPERS | {"getenv"}:
            return node.args[0]
        if isinstance(function, ast.Attribute):
            if function.attr in ENV_HELPERS | {"getenv"}:
                return node.args[0]
            if function.attr in {"get", "setdefault", "pop"} and is_environ(function.value):
                return node.args[0]
    if isinstance(node, ast.Subscript) and is_environ(node.value):
        return node.slice
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and is_environ(node.comparators[0])
    ):
        return node.left
    return None


def python_reads(source: str) -> tuple[set[str], list[int]]:
    """The names source reads from the environment, and the lines where it reads one
    whose name is not written out."""
    names, unnamed = set(), []
    for node in ast.walk(ast.parse(source)):
        name = name_read(node)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            names.add(name.value)
        elif name is not None:
            unnamed.append(node.lineno)
    return names, unnamed


def unit_reads(text: str) -> set[str]:
    return set(SHELL_VARIABLE.findall(text)) | set(SYSTEMD_ENVIRONMENT.findall(text))


def variables_read() -> tuple[set[str], list[str]]:
    """Every name read, but those that are not settings, and where one is not written out."""
    names, unnamed = set(), []
    for directory in CODE_DIRECTORIES:
        for path in sorted((BASE_DIR / directory).rglob("*.py")):
            found, lines = python_reads(path.read_text())
            names |= found
            if path != HELPERS_MODULE:
                unnamed += [f"{path.relative_to(BASE_DIR)}:{line}" for line in lines]
    for unit in sorted((BASE_DIR / "deploy").glob("*.service")):
        names |= unit_reads(unit.read_text())
    return names - NOT_SETTINGS, unnamed


def test_every_variable_the_code_reads_from_the_environment_is_in_env_example():
    names, _ = variables_read()
    listed = set(EXAMPLE_ASSIGNMENT.findall((BASE_DIR / ".env.example").read_text()))

    assert names, "found no variable read from the environment: is this test still looking?"
    missing = sorted(names - listed)
    assert missing == [], f".env.example should list and explain {', '.join(missing)}"


def test_the_code_names_each_variable_it_reads_so_that_it_can_be_checked():
    _, unnamed = variables_read()
    assert unnamed == [], "read the environment with a literal name, e.g. env_str('NAME')"


def test_the_search_finds_each_way_the_code_reads_the_environment():
    source = """
import os
from os import environ, getenv
from liveblog import env
from liveblog.env import env_int
a = env_int("A", 1)
b = env.env_bool("B")
c = os.environ.get("C")
d = os.getenv("D")
e = os.environ["E"]
f = environ.setdefault("F", "")
g = "G" in os.environ
h = getenv("H")
i = os.environ.get(a)
j = request.environ.get("HTTP_HOST")
"""
    assert python_reads(source) == (set("ABCDEFGH"), [14])
    unit = """
EnvironmentFile=/etc/liveblog/env
Environment=I=2
Environment="J=x y"
ExecStart=/bin/sh -c 'for n in $(seq 3); do echo $K ${L} $n; done'
"""
    assert unit_reads(unit) == set("IJKL")


def start_refused(**environment: str) -> str:
    """What a process reading the settings with these variables says as it fails."""
    started = subprocess.run(
        [sys.executable, "-c", "import liveblog.settings"],
        cwd=BASE_DIR,
        env=os.environ | environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert started.returncode != 0
    return started.stderr


def test_a_heartbeat_so_rare_that_pages_take_their_sockets_for_dead_stops_the_start():
    refused = start_refused(LIVE_HEARTBEAT_SECONDS="45")
    assert "LIVE_HEARTBEAT_SECONDS must be from 1 to 30, not 45" in refused


def test_an_embed_origin_that_is_not_an_origin_stops_the_start():
    refused = start_refused(EMBED_ALLOWED_ORIGINS="https://news.example,news.example/live")
    assert "EMBED_ALLOWED_ORIGINS takes origins or *, not: news.example/live" in refused

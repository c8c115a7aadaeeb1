"""The modules pyproject.toml holds strictly get every check `mypy --strict` makes.

pyproject.toml lists the checks one by one, since `strict = true` in an override turns
them on for every module: a mypy that adds a check to --strict fails here until the list
has it too.
"""

import tomllib
from pathlib import Path

from mypy.main import process_options
from mypy.options import PER_MODULE_OPTIONS

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
MYPY = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]


def checks(*flags: str) -> dict[str, object]:
    """The options mypy runs with for these flags, with no configuration file."""
    options = process_options([*flags, "--config-file", "", "-c", "pass"])[1]
    return {name: getattr(options, name) for name in PER_MODULE_OPTIONS}


def test_the_strict_modules_get_every_check_of_mypy_strict():
    plain, strict = checks(), checks("--strict")
    wanted = {name: value for name, value in strict.items() if plain[name] != value}
    override = next(each for each in MYPY["overrides"] if "updates.services" in each["module"])
    given = {name: override.get(name, MYPY.get(name)) for name in wanted}
    assert given == wanted, "pyproject.toml's strict override lacks a check of mypy --strict"

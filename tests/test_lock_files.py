"""The lock files (requirements/, made by `make lock`) hold what pyproject.toml asks for:
every direct dependency at a version inside its range, every pin with its hashes, and the
test set at the production set's versions. make run, make test, CI and deploy/ install
from them, so a range changed in pyproject.toml without `make lock` fails here, not in
production.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
PRODUCTION = BASE_DIR / "requirements" / "production.txt"
TEST = BASE_DIR / "requirements" / "test.txt"
REMAKE = "run `make lock` and commit requirements/"


def shown(lock: Path) -> Path:
    return lock.relative_to(BASE_DIR)


def pins(lock: Path) -> dict[NormalizedName, list[tuple[Requirement, list[str]]]]:
    """Each package's pins (one per environment marker) with their hashes."""
    found: dict[NormalizedName, list[tuple[Requirement, list[str]]]] = {}
    for line in lock.read_text().replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pin = Requirement(line.partition(" --")[0])
        hashes = re.findall(r"--hash=(\S+)", line)
        found.setdefault(canonicalize_name(pin.name), []).append((pin, hashes))
    return found


def versions(lock: Path) -> dict[NormalizedName, set[str]]:
    return {
        name: {str(pin.specifier).removeprefix("==") for pin, _ in entries}
        for name, entries in pins(lock).items()
    }


def assert_locked_within(lock: Path, wanted: list[str]) -> None:
    locked = pins(lock)
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{shown(lock)} lacks {name} ({text} in pyproject.toml): {REMAKE}"
        for pin, _ in locked[name]:
            version = str(pin.specifier).removeprefix("==")
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{shown(lock)} pins {name} {version}, outside pyproject.toml's {text}: {REMAKE}"
            )
        for extra in sorted(requirement.extras):
            for needed in metadata.requires(requirement.name) or []:
                dependency = Requirement(needed)
                if dependency.marker and dependency.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(dependency.name) in locked, (
                        f"{shown(lock)} lacks {dependency.name}, which {text} brings: {REMAKE}"
                    )


@pytest.mark.parametrize("lock", [PRODUCTION, TEST], ids=lambda lock: lock.name)
def test_every_pin_is_one_exact_version_with_its_hashes(lock):
    for name, entries in pins(lock).items():
        for pin, hashes in entries:
            assert str(pin.specifier).startswith("=="), f"{shown(lock)}: {pin} is not exact"
            assert hashes, f"{shown(lock)}: {name} has no hash: {REMAKE}"
            assert all(value.startswith("sha256:") for value in hashes), hashes


def test_the_production_lock_holds_every_dependency_in_its_range():
    assert_locked_within(PRODUCTION, PROJECT["dependencies"])


def test_the_test_lock_holds_every_dependency_and_test_extra_in_its_range():
    assert_locked_within(TEST, PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"])


def test_the_test_lock_installs_the_production_versions():
    production, test = versions(PRODUCTION), versions(TEST)
    differing = {
        name: (pinned, test.get(name))
        for name, pinned in production.items()
        if test.get(name) != pinned
    }
    assert not differing, (
        f"requirements/test.txt differs from production.txt: {differing}: {REMAKE}"
    )

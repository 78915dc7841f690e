"""pyproject.toml ships every package and data file of `app/` (a fast check; test_wheel builds it)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]


def _source_files() -> list[Path]:
    return [p for p in (REPO / "app").rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_every_package_of_app_is_listed() -> None:
    packages = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "app").rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"]) - set(SETUPTOOLS["package-dir"])
    assert packages - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - packages == set()


def test_migrations_ship_inside_the_package() -> None:
    assert SETUPTOOLS["package-dir"] == {"app.db.sql": "migrations"}
    assert "app.db.sql" in SETUPTOOLS["packages"]


def _package_of(path: Path) -> Path:
    """The nearest folder above `path` that is a package (setuptools' patterns are relative to it)."""
    folder = path.parent
    while not (folder / "__init__.py").exists():
        folder = folder.parent
    return folder


def test_every_data_file_of_app_matches_a_package_data_pattern() -> None:
    data = [p for p in _source_files() if p.suffix not in (".py", ".pyc")]
    unshipped = []
    for path in data:
        package = _package_of(path)
        name = ".".join(package.relative_to(REPO).parts)
        patterns = [*SETUPTOOLS["package-data"]["*"], *SETUPTOOLS["package-data"].get(name, [])]
        relative = path.relative_to(package).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            unshipped.append(path.relative_to(REPO).as_posix())
    assert unshipped == [], "add a pattern to [tool.setuptools.package-data] in pyproject.toml"


def test_every_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    loose = [r for r in requirements if r.count("==") != 1 or any(c in r for c in "<>~!*,;")]
    assert loose == [], "pin these exactly (name==version): every build must be reproducible"

"""Packaging: every package of the source tree is installed (pyproject lists them explicitly, because the web
app's folder ui/ is installed under another name, kbqa_ui)."""

from __future__ import annotations

import tomllib

from tests.support import ROOT


def test_pyproject_lists_every_package_of_the_source_tree():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    src = ROOT / "src"
    found = {".".join(p.parent.relative_to(src).parts) for p in src.rglob("__init__.py")}
    assert set(config["packages"]) == found | {"kbqa_ui"}
    assert config["package-dir"]["kbqa_ui"] == "ui" and (ROOT / "ui" / "__init__.py").exists()


def test_the_web_app_is_importable_under_its_installed_name():
    import kbqa_ui

    assert kbqa_ui.__file__ and kbqa_ui.__file__.startswith(str(ROOT / "ui"))

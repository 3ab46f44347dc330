"""Serve MathJax from the built site itself.

The book must render its mathematics offline and load nothing from any host but its
own. Sphinx points at a CDN by default; this extension copies MathJax 3 (shipped on
PyPI by the ``django-static-mathjax`` wheel, which installs the ``mathjax`` package)
into ``_static/mathjax`` and points ``mathjax_path`` at it.

Pages load MathJax's ``startup.js`` and, through its loader, only the parts the book uses:
the core, TeX input (with ``ams``, ``newcommand``, ``autoload`` ...: further TeX packages load
by themselves when a page needs them), CommonHTML output and the assistive MathML that screen
readers read. That is 660 KB where the all-in-one ``tex-chtml.js`` is 1.16 MB: the difference
is MathJax's right-click menu, which the book does without so that a chapter stays under
2 MB (issue #11; ``tests/test_site.py`` weighs every page).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

#: Where the files land, relative to the HTML output's ``_static`` folder.
TARGET = "mathjax"
#: The script every page loads, the scripts it loads first, and the folders of what it may
#: load later (TeX extensions, fonts, accessibility).
ENTRY_POINT = "startup.js"
COMPONENTS = ("core.js",)
LOAD = ["input/tex", "output/chtml", "a11y/assistive-mml"]
LAZY_FOLDERS = ("input", "output", "ui", "a11y", "adaptors", "sre")


def mathjax_source() -> Path:
    """Return the ``es5`` folder of the installed MathJax distribution."""
    try:
        import mathjax  # the django-static-mathjax wheel
    except ImportError as error:  # pragma: no cover - exercised only on broken installs
        raise RuntimeError(
            "MathJax is served locally from the 'django-static-mathjax' package; "
            "install it with `pip install -r requirements.txt`."
        ) from error
    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (source / ENTRY_POINT).is_file():
        raise RuntimeError(f"MathJax entry point not found at {source / ENTRY_POINT}")
    return source


def _point_sphinx_at_local_copy(app: Sphinx, config: Config) -> None:
    # A relative mathjax_path is resolved against _static by Sphinx.
    config.mathjax_path = f"{TARGET}/{ENTRY_POINT}"
    mathjax3 = dict(config.mathjax3_config or {})
    loader = dict(mathjax3.get("loader") or {})
    loader["load"] = list(dict.fromkeys([*loader.get("load", []), *LOAD]))
    mathjax3["loader"] = loader
    config.mathjax3_config = mathjax3


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / TARGET
    target.mkdir(parents=True, exist_ok=True)
    for script in (ENTRY_POINT, *COMPONENTS):
        shutil.copy2(source / script, target / script)
    for folder in LAZY_FOLDERS:
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, Any]:
    mathjax_source()  # fail early, with a clear message, if MathJax is missing
    app.connect("config-inited", _point_sphinx_at_local_copy, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

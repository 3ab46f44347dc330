"""Colab and Binder launch buttons, switched on by one setting: the repository URL.

Jupyter Book 1 needs three settings for launch buttons (``repository.url``,
``launch_buttons.binderhub_url``, ``launch_buttons.colab_url``) and fails to build if the
launch URLs are set without the repository. This extension derives the launch URLs from the
repository URL alone: set ``repository.url`` in ``_config.yml`` to the book's GitHub repository
and the buttons appear; leave it empty and they do not. No URL is ever invented for the
repository itself.

The buttons open the chapter's *reader notebook*, ``notebooks/<chapter>.ipynb`` in the
repository (plain CommonMark, see ``reader_notebooks.py``; a test keeps those files equal to
what the build writes), not the MyST source under ``book/``, which Colab and plain Jupyter
would show with its roles and directives as raw text. Binder builds its image from
``binder/`` (a CPU-only PyTorch) and opens the notebook in JupyterLab.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
#: Where the reader notebooks live in the repository.
READER_NOTEBOOKS = "notebooks"
_GITHUB = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+?)/?$"
)

logger = logging.getLogger(__name__)


def github_repository(url: str) -> tuple[str, str] | None:
    """``(owner, repo)`` of ``https://github.com/<owner>/<repo>``; None for anything else."""
    match = _GITHUB.match(url.strip().removesuffix(".git"))
    return (match["owner"], match["repo"]) if match else None


def launch_settings(theme_options: dict[str, Any]) -> dict[str, Any]:
    """Return the theme's ``launch_buttons`` options, enabled iff a GitHub repository is set."""
    launch = dict(theme_options.get("launch_buttons") or {})
    enabled = github_repository(str(theme_options.get("repository_url") or "")) is not None
    launch["binderhub_url"] = BINDERHUB_URL if enabled else ""
    launch["colab_url"] = COLAB_URL if enabled else ""
    launch["notebook_interface"] = "jupyterlab"
    return launch


def launch_urls(repository_url: str, branch: str, chapter: str) -> dict[str, str]:
    """The Binder and Colab URLs that open ``notebooks/<chapter>.ipynb`` of the repository."""
    parts = github_repository(repository_url)
    if parts is None:
        raise ValueError(
            f"repository_url must be https://github.com/<owner>/<repo>, got {repository_url!r}"
        )
    owner, repo = parts
    path = f"{READER_NOTEBOOKS}/{chapter}.ipynb"
    ref = quote(branch, safe="")
    return {
        "Binder": f"{BINDERHUB_URL}/v2/gh/{owner}/{repo}/{ref}?urlpath=lab/tree/{path}",
        "Colab": f"{COLAB_URL}/github/{owner}/{repo}/blob/{branch}/{path}",
    }


def _configure(app: Sphinx, config: Config) -> None:
    options = dict(config.html_theme_options or {})
    url = str(options.get("repository_url") or "").strip()
    if url and github_repository(url) is None:
        logger.warning(
            "launch buttons off: repository.url must be https://github.com/<owner>/<repo> "
            "(Binder and Colab open GitHub repositories), got %r",
            url,
            type="launch_buttons",
        )
    options["launch_buttons"] = launch_settings(options)
    config.html_theme_options = options


def _point_at_reader_notebooks(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Re-aim the theme's Binder and Colab buttons at the chapter's reader notebook."""
    options = app.config.html_theme_options or {}
    url = str(options.get("repository_url") or "")
    if github_repository(url) is None:
        return
    branch = str(options.get("repository_branch") or "main")
    urls = launch_urls(url, branch, Path(pagename).name)
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") in urls:
                button["url"] = urls[button["text"]]
                button["tooltip"] = f"Open this chapter's notebook on {button['text']}"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure, priority=900)
    # after the theme has added its launch buttons (priority 501)
    app.connect("html-page-context", _point_at_reader_notebooks, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

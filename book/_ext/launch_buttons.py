"""Colab and Binder launch buttons, switched on by one setting: the repository URL.

Jupyter Book 1 needs three settings for launch buttons (``repository.url``,
``launch_buttons.binderhub_url``, ``launch_buttons.colab_url``) and fails to build if the
launch URLs are set without the repository. This extension derives the launch URLs from the
repository URL alone: set ``repository.url`` in ``_config.yml`` and the buttons appear; leave it
empty and they do not. No URL is ever invented for the repository itself.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"


def launch_settings(theme_options: dict[str, Any]) -> dict[str, Any]:
    """Return the theme's ``launch_buttons`` options, enabled iff a repository URL is set."""
    launch = dict(theme_options.get("launch_buttons") or {})
    enabled = bool(str(theme_options.get("repository_url") or "").strip())
    launch["binderhub_url"] = BINDERHUB_URL if enabled else ""
    launch["colab_url"] = COLAB_URL if enabled else ""
    return launch


def _configure(app: Sphinx, config: Config) -> None:
    options = dict(config.html_theme_options or {})
    options["launch_buttons"] = launch_settings(options)
    config.html_theme_options = options


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

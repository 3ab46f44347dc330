"""Resolve citations and figure references without repeating work for each one.

Sphinx resolves every cross-reference in the main process, one document after another, while
the other cores wait; two kinds cost this book seconds:

- **Citations.** For every citation, sphinxcontrib-bibtex asks pybtex for its plain-text back
  end by name, and pybtex looks the name up among the entry points of every installed
  package: 7.5 ms a citation, two seconds for the book's 280. pybtex checks the plugins
  registered at run time before the entry points, so registering the class the entry point
  names, once, gives the same class without the scan.
- **Figure numbers.** For every ``{numref}``, Sphinx's standard domain unpickles the whole
  doctree of the page that holds the figure, to look at one node: 47 ms each (a chapter's
  doctree holds its outputs), 2.5 s for the book's 52. The doctrees do not change once all
  pages are read, and the numbering only reads them, so here each is unpickled once per
  build (:func:`cached_doctrees`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pybtex.plugin
from sphinx.application import Sphinx
from sphinx.domains.std import StandardDomain
from sphinx.environment import BuildEnvironment

GROUP = "pybtex.backends"
NAME = "plaintext"
CACHE = "_reparam_numref_doctrees"


def register_plaintext_backend() -> type[Any]:
    """Register pybtex's plain-text back end as a run-time plugin and return its class."""
    backend: type[Any] = pybtex.plugin.find_plugin(GROUP, NAME)  # the one entry-point scan
    pybtex.plugin.register_plugin(GROUP, NAME, backend, force=True)
    return backend


@contextmanager
def cached_doctrees(env: BuildEnvironment, cache: dict[str, Any]) -> Iterator[None]:
    """Within the block, ``env.get_doctree`` returns one shared doctree per page from
    ``cache`` (read-only use only: the caller must not change it)."""
    read: Callable[[str], Any] = env.get_doctree

    def get_doctree(docname: str) -> Any:
        if docname not in cache:
            cache[docname] = read(docname)
        return cache[docname]

    env.get_doctree = get_doctree  # type: ignore[method-assign]
    try:
        yield
    finally:
        del env.get_doctree  # the class's method again


def _patch_numref() -> None:
    original = StandardDomain._resolve_numref_xref
    if getattr(original, "_cached", False):
        return

    def resolve(self: StandardDomain, env: BuildEnvironment, *args: Any) -> Any:
        cache = getattr(env, CACHE, None)
        if cache is None:  # pages may still change: no cache
            return original(self, env, *args)
        with cached_doctrees(env, cache):
            return original(self, env, *args)

    resolve._cached = True  # type: ignore[attr-defined]
    StandardDomain._resolve_numref_xref = resolve  # type: ignore[method-assign,assignment]


def _start_cache(app: Sphinx, env: BuildEnvironment) -> list[str]:
    setattr(env, CACHE, {})  # every page is read: from here the doctrees are final
    return []


def _drop_cache(app: Sphinx, exception: BaseException | None) -> None:
    if hasattr(app.env, CACHE):
        delattr(app.env, CACHE)  # not pickled, not kept for the next build


def setup(app: Sphinx) -> dict[str, Any]:
    register_plaintext_backend()
    _patch_numref()
    app.connect("env-updated", _start_cache)
    app.connect("build-finished", _drop_cache)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

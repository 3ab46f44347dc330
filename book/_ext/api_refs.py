"""Cross-references of the API reference (book/api.md) that Sphinx cannot resolve alone.

The reference is generated from the docstrings and type hints of ``reparam`` by autodoc.
Two kinds of names in them have no target in this book:

- names re-exported at the top of the package (``reparam.NORMAL``, ``reparam.summarize``),
  documented under the module that defines them (``reparam.normal.NORMAL``): they are
  resolved to that module's entry;
- types of other packages (``torch.Tensor``, ``numpy.ndarray``, ``collections.abc.Mapping``):
  their documentation would be linked through intersphinx, which needs the network when the
  book is built. They are shown as code, without a link.

Anything else that does not resolve still fails the strict build (``-n``).

The chapters name the package's functions as inline code (``reparam.summarize``) so that the
notebooks read the same in plain Jupyter; :func:`link_inline_code` turns every such name that
the reference documents into a link to its entry.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

EXTERNAL = (
    "torch.",
    "numpy.",
    "collections.abc.",
    "pathlib.",
    "typing.",
    "matplotlib.",
    "constraints.",  # torch.distributions.constraints, as the type hints import it
)
# Short names that the type hints use for other packages' types.
EXTERNAL_SHORT = {"Tensor", "Path", "Figure", "Axes"}


def _canonical(target: str, module: str | None) -> str | None:
    """Where ``target`` (``reparam.X``, or a name of ``module``) is documented, if anywhere.

    Classes and functions are documented under the module that defines them; other objects
    (``reparam.NORMAL``) under the module that defines the name, found by identity.
    """
    candidates = [target]
    if module and not target.startswith("reparam."):
        candidates.append(f"{module}.{target}")
    for candidate in candidates:
        if not candidate.startswith("reparam."):
            continue
        parent, _, name = candidate.rpartition(".")
        try:
            obj = getattr(importlib.import_module(parent), name)
        except (ImportError, AttributeError):
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            return f"{obj.__module__}.{obj.__qualname__}"
        if inspect.ismodule(obj):
            return obj.__name__
        home = getattr(obj, "__module__", None)
        for defining in (home, parent):
            if not isinstance(defining, str) or not defining.startswith("reparam"):
                continue
            found = vars(importlib.import_module(defining)).get(name)
            if found is obj:
                return f"{defining}.{name}"
        return candidate
    return None


def resolve(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if target.startswith(EXTERNAL) or target in EXTERNAL_SHORT:
        return nodes.literal(target, contnode.astext())
    canonical = _canonical(target, node.get("py:module"))
    if canonical is None or canonical == target:
        return None
    domain = env.get_domain("py")
    builder = app.builder
    for role in (node["reftype"], "obj"):
        found = domain.resolve_xref(
            env, node["refdoc"], builder, role, canonical, node.deepcopy(), contnode
        )
        if found is not None:
            return found
    return None


def link_inline_code(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Inline code naming a documented ``reparam`` object becomes a link to its entry."""
    if app.builder.format != "html":
        return
    objects = app.env.get_domain("py").objects  # type: ignore[attr-defined]
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(literal.parent, nodes.reference) or "xref" in literal.get("classes", []):
            continue
        text = literal.astext()
        name = text.removesuffix("()")
        if not name.startswith("reparam.") or " " in name:
            continue
        canonical = _canonical(name, None) or name
        entry = objects.get(canonical)
        if entry is None:
            continue
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        reference = nodes.reference("", "", internal=True, refuri=uri, classes=["api-link"])
        reference += literal.deepcopy()
        literal.replace_self(reference)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve)
    app.connect("doctree-resolved", link_inline_code)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

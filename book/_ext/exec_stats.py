"""The execution-statistics table, in plain text and honest about what it measures.

myst-nb's ``nb-exec-table`` shows a status emoji (empty boxes without an emoji font) and the
seconds each notebook took *inside the build*, where several notebooks execute at once in
parallel reading processes (``book/_ext/parallel_read.py``) and compete for the CPUs. Those
seconds are not the notebook's own run time, so a page that states the per-notebook budget next
to them contradicts itself. The ``book-exec-table`` directive writes instead, per notebook:
its budget, the seconds measured in this build, a plain-text status, and a note when the
build time exceeds the budget; and above the table, how the build ran (processes and CPUs).
The budget itself is checked by ``python tools/run_notebooks.py --no-write``, which runs each
notebook alone in a fresh kernel (see CONTRIBUTING.md).

Configuration (``_config.yml``, ``sphinx.config``):

- ``exec_budget_seconds`` (default 20): the budget of a notebook;
- ``exec_budget_overrides``: ``{docname: seconds}`` for notebooks with a larger budget.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

#: myst-nb rewrites the documents holding this key whenever a notebook is re-executed.
METADATA_KEY = "has_exec_table"


class ExecStatsNode(nodes.General, nodes.Element):
    """Placeholder, replaced once every notebook has been read (and so executed)."""


class BookExecTable(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from myst_nb.sphinx_ import NbMetadataCollector

        NbMetadataCollector.set_doc_data(self.env, self.env.docname, METADATA_KEY, True)
        return [ExecStatsNode()]


def budget_for(docname: str, default: float, overrides: dict[str, float]) -> float:
    return float(overrides.get(docname, default))


def status_text(data: dict[str, Any]) -> str:
    if data.get("succeeded"):
        return "ran cleanly"
    error = data.get("error") or "error"
    return f"failed ({error})"


def note_text(runtime: float | None, budget: float) -> str:
    if runtime is None:
        return "not timed"
    if runtime > budget:
        return f"over the budget in this build, by {runtime - budget:.1f} s"
    return "within the budget"


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph(text=text)


def make_table(
    parent: str,
    rows: list[tuple[str, dict[str, Any]]],
    default: float,
    overrides: dict[str, float],
) -> nodes.table:
    headers = ["notebook", "budget (s)", "this build (s)", "status", "note"]
    table = nodes.table(classes=["colwidths-auto", "exec-stats"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    row = nodes.row()
    head += row
    for header in headers:
        row += nodes.entry("", _paragraph(header))
    body = nodes.tbody()
    group += body
    for docname, data in rows:
        budget = budget_for(docname, default, overrides)
        runtime = data.get("runtime")
        link = pending_xref(
            refdoc=parent,
            reftarget=posixpath.relpath(docname, posixpath.dirname(parent)),
            reftype="doc",
            refdomain="std",
            refexplicit=False,
            refwarn=True,
            classes=["xref", "doc"],
        )
        link += nodes.inline(text=docname)
        row = nodes.row()
        row += nodes.entry("", nodes.paragraph("", "", link))
        row += nodes.entry("", _paragraph(f"{budget:.0f}"))
        row += nodes.entry("", _paragraph("—" if runtime is None else f"{runtime:.1f}"))
        row += nodes.entry("", _paragraph(status_text(data)))
        row += nodes.entry("", _paragraph(note_text(runtime, budget)))
        body += row
    return table


class ExecStatsTransform(SphinxPostTransform):
    default_priority = 8  # before the references are resolved

    def run(self, **kwargs: Any) -> None:
        from myst_nb.sphinx_ import NbMetadataCollector

        config = self.env.config
        default = float(config.exec_budget_seconds)
        overrides = {k: float(v) for k, v in (config.exec_budget_overrides or {}).items()}
        metadata = NbMetadataCollector.get_doc_data(self.env)
        rows = [
            (docname, data["exec_data"])
            for docname, data in sorted(metadata.items())
            if data.get("exec_data")
        ]
        for node in list(self.document.findall(ExecStatsNode)):
            if not rows:
                node.replace_self(
                    _paragraph(
                        "This build did not execute the notebooks (execution was switched "
                        "off): the pages show the outputs stored in the notebooks, which the "
                        "test suite checks against a fresh run. No times to report."
                    )
                )
                continue
            jobs = int(self.env.app.parallel or 1)
            cpus = os.cpu_count() or 1
            slow = sum(
                1
                for docname, data in rows
                if (data.get("runtime") or 0) > budget_for(docname, default, overrides)
            )
            summary = (
                f"This build executed {len(rows)} notebooks in {max(jobs, 1)} parallel "
                f"process{'es' if jobs > 1 else ''} on {cpus} CPU{'s' if cpus > 1 else ''}. "
                + (
                    "Notebooks that run at the same time share the CPUs, so a time below is "
                    "the wall-clock time a notebook took inside this build, which can be "
                    "well above its run time alone. "
                    if jobs > 1
                    else "Each notebook ran alone, so a time below is its own run time. "
                )
                + (
                    f"{slow} of them took longer than their budget here."
                    if slow
                    else "Every notebook stayed within its budget here."
                )
            )
            node.replace_self(
                [_paragraph(summary), make_table(self.env.docname, rows, default, overrides)]
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("exec_budget_seconds", 20, "env", [int, float])
    app.add_config_value("exec_budget_overrides", {}, "env", [dict])
    app.add_node(ExecStatsNode)
    app.add_directive("book-exec-table", BookExecTable)
    app.add_post_transform(ExecStatsTransform)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

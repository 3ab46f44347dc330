"""Reader notebooks: every chapter as a plain notebook for Jupyter, Colab and VS Code (#13).

A chapter's source notebook is MyST: plain Jupyter shows ``{cite:t}``, ``{eq}``,
``{glue:text}``, exercise directives and ``literalinclude`` as raw text. During the normal HTML
build this extension converts each chapter's *resolved* doctree (``doctree-resolved``: citations,
equation and figure numbers, glued values and included code are already in it) into a notebook
of CommonMark cells and writes it to ``_build/html/_notebooks/<chapter>.ipynb``; the download
menu of each chapter page offers it as "Notebook for Jupyter/Colab". No second Sphinx pass.

What the reader notebook holds:

- first, the setup cell of ``reader_setup_cell.py`` (one template for all chapters): it installs
  ``reparam`` where it is missing (CPU-only PyTorch) or says what to run, and defines ``glue``;
- the chapter's code cells, in order, each exactly its source except the line
  ``from myst_nb import glue`` (the setup cell defines ``glue``), without outputs: the reader
  runs them, the pages show them, and the download stays small;
- the text as CommonMark with ``$`` math: citations "Mohamed et al. (2020)" and
  "(Glynn, 1990)" with the chapter's works listed at the end, equation references "(3.1)" and
  numbered displays (``\\tag``), glued values as text, figure references "Fig. 7.1" and the
  figure captions under their code cells, exercises and solutions as headings ("Exercise 3.1",
  "Solution to Exercise 3.1"), admonitions as block quotes (folded ones as a bold title),
  included code as fenced Python, cross-references as their text.

A node type the converter does not know fails the build (a warning, and the build runs with
``-W``) instead of leaking markup: tests/test_reader_notebooks.py renders every reader notebook
with a plain CommonMark renderer, checks that no MyST is left and executes each one.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

#: Where the reader notebooks go, inside the HTML output folder.
READER_FOLDER = "_notebooks"
SETUP_TEMPLATE = Path(__file__).with_name("reader_setup_cell.py")
SETUP_MARKER = "# --- cell ---\n"
GLUE_IMPORT = "from myst_nb import glue"
#: The label of the download menu entry (the theme's own ".ipynb" entry is the MyST source).
DOWNLOAD_TEXT = "Notebook for Jupyter/Colab (.ipynb)"
SOURCE_TEXT = "MyST source (.ipynb)"

# Characters that CommonMark (and Jupyter's ``$`` math) would read as markup in plain text.
_ESCAPED = re.compile(r"([\\`*_\[\]<>$])")
# A line that CommonMark would read as a list item, heading, quote or rule, not as text.
_BLOCK_START = re.compile(r"^(\s*)([-+*#>=]|\d{1,9}[.)])(?=\s|$)")
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def setup_cell_source(repository_url: str, branch: str) -> str:
    """The first cell of every reader notebook, for the given repository setting."""
    template = SETUP_TEMPLATE.read_text(encoding="utf-8")
    if template.count(SETUP_MARKER) != 1:
        raise ValueError(f"{SETUP_TEMPLATE.name} needs exactly one line {SETUP_MARKER!r}")
    code = template.split(SETUP_MARKER, 1)[1]
    for name, value in (("REPOSITORY_URL", repository_url), ("REPOSITORY_BRANCH", branch)):
        line = re.compile(rf"^{name} = .*$", re.MULTILINE)
        if len(line.findall(code)) != 1:
            raise ValueError(f"{SETUP_TEMPLATE.name} must set {name} exactly once")
        code = line.sub(f"{name} = {json.dumps(value)}", code)
    return code.rstrip("\n")


def reader_code(source: str) -> str:
    """A chapter's code cell as the reader notebook holds it: the setup cell defines glue."""
    lines = source.split("\n")
    kept = [line for line in lines if line.strip() != GLUE_IMPORT]
    return "\n".join(kept).strip("\n")


def escape_text(text: str) -> str:
    """Plain text as CommonMark that shows exactly that text."""
    return _ESCAPED.sub(r"\\\1", text)


def guard_block_starts(markdown: str) -> str:
    """Escape line starts that CommonMark would take for a list, heading, quote or rule."""

    def guard(line: str) -> str:
        match = _BLOCK_START.match(line)
        if not match:
            return line
        start = match.end(1)
        marker = match.group(2)
        if marker[0].isdigit():  # "1." -> "1\."
            return line[: start + len(marker) - 1] + "\\" + line[start + len(marker) - 1 :]
        return line[:start] + "\\" + line[start:]

    return "\n".join(guard(line) for line in markdown.split("\n"))


def code_span(text: str) -> str:
    """An inline code span that holds ``text`` whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced_code(text: str, language: str) -> str:
    """A fenced code block that holds ``text`` whatever backtick runs it contains."""
    longest = max((len(run) for run in re.findall(r"^`{3,}", text, re.MULTILINE)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def indent(markdown: str, first: str, rest: str) -> str:
    """Prefix the first line with ``first`` and the others with ``rest`` (blank lines bare)."""
    lines = markdown.split("\n")
    out = [first + lines[0]]
    out += [(rest + line) if line.strip() else rest.rstrip() for line in lines[1:]]
    return "\n".join(out)


def wrap_inline(marker: str, inner: str) -> str:
    """Emphasis around ``inner``, with its edge spaces kept outside the markers."""
    stripped = inner.strip()
    if not stripped:
        return inner
    left = inner[: len(inner) - len(inner.lstrip())]
    right = inner[len(inner.rstrip()) :]
    return f"{left}{marker}{stripped}{marker}{right}"


@dataclass
class Notebook:
    """The cells of a reader notebook under construction."""

    cells: list[Any] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def add_text(self, block: str) -> None:
        if block.strip():
            self.text.append(block.strip("\n"))

    def flush(self) -> None:
        if self.text:
            self.cells.append(nbformat.v4.new_markdown_cell("\n\n".join(self.text)))
            self.text = []

    def add_code(self, source: str) -> None:
        self.flush()
        self.cells.append(nbformat.v4.new_code_cell(source))


class UnsupportedNode(Exception):
    """Raised for a node the converter cannot render (reported as a build warning)."""


class ChapterConverter:
    """Turns one chapter's resolved doctree into reader notebook cells."""

    def __init__(self, app: Sphinx, docname: str, source: Any) -> None:
        self.app = app
        self.env = app.env
        self.docname = docname
        self.source = source  # the chapter's own notebook (code cells by index)
        self.fignumbers = self.env.toc_fignumbers.get(docname, {})
        self.secnumbers = self.env.toc_secnumbers.get(docname, {})
        self.cited: dict[str, None] = {}  # citation ids, in order of first citation
        self.code_cells_seen: set[int] = set()
        self.notebook = Notebook()
        self.in_table = False

    # --- numbers ----------------------------------------------------------------------------

    def number(self, figtype: str, node_id: str) -> str | None:
        found = self.fignumbers.get(figtype, {}).get(node_id)
        return ".".join(map(str, found)) if found else None

    def section_prefix(self, section: nodes.section) -> str:
        """The section's number as the page shows it ("3.1. "), or nothing."""
        top = isinstance(section.parent, nodes.document)
        keys = [""] if top else [f"#{node_id}" for node_id in section["ids"]]
        for key in keys:
            found = self.secnumbers.get(key)
            if found:
                return ".".join(map(str, found)) + self.app.config.html_secnumber_suffix
        return ""

    # --- flow: sections, cells, exercises ---------------------------------------------------

    def convert(self, doctree: nodes.document) -> list[Any]:
        self.flow(doctree, level=0)
        self.notebook.flush()
        self.add_works_cited()
        return self.notebook.cells

    def flow(self, node: nodes.Element, level: int) -> None:
        """Children of a structural node: headings and code cells split the markdown cells."""
        for child in node.children:
            if isinstance(child, nodes.section):
                self.notebook.flush()
                title = child.next_node(nodes.title)
                heading = self.inline(title) if title is not None else ""
                prefix = self.section_prefix(child)
                self.notebook.add_text("#" * (level + 1) + " " + prefix + heading)
                self.flow(child, level + 1)
            elif isinstance(child, nodes.title):
                continue  # written by the parent
            elif self.is_code_cell(child):
                self.code_cell(child)
            elif child.tagname in ("exercise_enumerable_node", "exercise_unenumerable_node"):
                self.notebook.flush()
                self.notebook.add_text("#" * min(level + 1, 6) + " " + self.exercise_title(child))
                self.flow_content(child, level + 1)
            elif child.tagname == "solution_node":
                self.notebook.flush()
                title = child.next_node(nodes.title)
                text = self.inline(title, links=False) if title is not None else "Solution"
                self.notebook.add_text("#" * min(level + 2, 6) + " " + text)
                self.flow_content(child, level + 2)
            else:
                self.notebook.add_text(self.block(child))

    def flow_content(self, node: nodes.Element, level: int) -> None:
        """The body of an exercise or solution: its content section holds the blocks."""
        for child in node.children:
            if isinstance(child, nodes.title):
                continue
            if isinstance(child, nodes.section):  # exercise-content / solution-content
                self.flow(child, level)
            elif self.is_code_cell(child):
                self.code_cell(child)
            else:
                self.notebook.add_text(self.block(child))

    @staticmethod
    def is_code_cell(node: nodes.Node) -> bool:
        return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"

    def code_cell(self, node: nodes.container) -> None:
        index = int(node["cell_index"])
        self.code_cells_seen.add(index)
        self.notebook.add_code(reader_code(self.source.cells[index].source))
        # The outputs stay out (the reader runs the cell); figure captions stay with it.
        for figure in node.findall(nodes.figure):
            caption = figure.next_node(nodes.caption)
            number = self.number("figure", figure["ids"][0]) if figure["ids"] else None
            label = self.app.config.numfig_format["figure"] % number if number else "Figure"
            text = self.inline(caption) if caption is not None else ""
            self.notebook.add_text(f"**{label}.** {text}".rstrip())
            self.notebook.flush()

    def exercise_title(self, node: nodes.Element) -> str:
        number = self.number("exercise", node.get("label", ""))
        heading = "Exercise" + (f" {number}" if number else "")
        title = node.next_node(nodes.title)
        extra = self.inline(title).strip() if title is not None else ""
        return f"{heading} ({extra})" if extra else heading

    # --- blocks -----------------------------------------------------------------------------

    def blocks(self, node: nodes.Element) -> str:
        parts = [self.block(child) for child in node.children]
        return "\n\n".join(part for part in parts if part.strip())

    def block(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.paragraph):
            return guard_block_starts(self.inline(node).strip())
        if isinstance(node, nodes.math_block):
            return self.math_block(node)
        if isinstance(node, nodes.literal_block):
            return self.literal_block(node)
        if isinstance(node, nodes.bullet_list | nodes.enumerated_list):
            return self.list_block(node)
        if isinstance(node, nodes.definition_list):
            return self.definition_list(node)
        if isinstance(node, nodes.Admonition):
            return self.admonition(node)
        if isinstance(node, nodes.table):
            return self.table(node)
        if isinstance(node, nodes.block_quote):
            return indent(self.blocks(node), "> ", "> ")
        if isinstance(node, nodes.rubric):
            return wrap_inline("**", self.inline(node))
        if isinstance(node, nodes.transition):
            return "---"
        if isinstance(node, nodes.raw):
            return node.astext() if "html" in node.get("format", "").split() else ""
        if isinstance(node, nodes.target | nodes.comment | addnodes.index):
            return ""
        if isinstance(node, nodes.container | nodes.compound | addnodes.only):
            if any(self.is_code_cell(n) for n in node.findall(nodes.container)):
                raise UnsupportedNode("a code cell inside another block")
            return self.blocks(node)
        if isinstance(node, nodes.topic | nodes.sidebar):
            return self.admonition(node)
        raise UnsupportedNode(f"block node <{node.tagname}>")

    def math_block(self, node: nodes.math_block) -> str:
        latex = node.astext().strip()
        if node.get("nowrap"):
            return latex
        if node.get("number"):
            # Sphinx's own numbering, as the HTML writer applies it to this page
            builder = SimpleNamespace(
                name=self.app.builder.name, config=self.app.config, fignumbers=self.fignumbers
            )
            writer = SimpleNamespace(builder=builder)
            number = get_node_equation_number(writer, node)  # type: ignore[arg-type]
            latex += f" \\tag{{{number}}}"
        return f"$$\n{latex}\n$$"

    def literal_block(self, node: nodes.literal_block) -> str:
        language = node.get("language", "")
        if language in ("default", "ipython3", "ipython", "python3") or str(
            node.get("source", "")
        ).endswith(".py"):
            language = "python"
        return fenced_code(node.astext(), language if re.fullmatch(r"[\w+-]*", language) else "")

    def list_block(self, node: nodes.Element) -> str:
        items = [child for child in node.children if isinstance(child, nodes.list_item)]
        tight = all(len(item.children) == 1 for item in items)
        start = int(node.get("start", 1))
        rendered = []
        for offset, item in enumerate(items):
            marker = f"{start + offset}. " if isinstance(node, nodes.enumerated_list) else "- "
            rendered.append(indent(self.blocks(item), marker, " " * len(marker)))
        return ("\n" if tight else "\n\n").join(rendered)

    def definition_list(self, node: nodes.definition_list) -> str:
        parts = []
        for item in node.findall(nodes.definition_list_item):
            term = item.next_node(nodes.term)
            definition = item.next_node(nodes.definition)
            parts.append(wrap_inline("**", self.inline(term)) if term is not None else "")
            if definition is not None:
                parts.append(self.blocks(definition))
        return "\n\n".join(part for part in parts if part)

    def admonition(self, node: nodes.Element) -> str:
        title = node.next_node(nodes.title)
        if title is not None and title.parent is node:
            heading = self.inline(title).strip()
        else:
            heading = node.tagname.capitalize()
        body = "\n\n".join(
            part
            for part in (self.block(c) for c in node.children if not isinstance(c, nodes.title))
            if part.strip()
        )
        text = f"**{heading}**\n\n{body}" if heading else body
        if "dropdown" in node.get("classes", []):
            return text  # folded on the page: here a bold title over its content
        return indent(text, "> ", "> ")

    def table(self, node: nodes.table) -> str:
        group = node.next_node(nodes.tgroup)
        if group is None:
            raise UnsupportedNode("table without tgroup")
        head = [row for body in group.findall(nodes.thead) for row in body.findall(nodes.row)]
        rows = [row for body in group.findall(nodes.tbody) for row in body.findall(nodes.row)]
        if not head and rows:
            head, rows = rows[:1], rows[1:]
        self.in_table = True
        try:
            header = [self.table_cell(entry) for entry in head[-1].findall(nodes.entry)]
            body = [[self.table_cell(e) for e in row.findall(nodes.entry)] for row in rows]
        finally:
            self.in_table = False
        columns = len(header)
        align = []
        for column in range(columns):
            entries = [row.children[column] for row in rows if len(row.children) > column]
            right = entries and all("text-right" in e.get("classes", []) for e in entries)
            align.append("---:" if right else "---")
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        title = node.next_node(nodes.title)
        if title is not None and title.parent is node:
            number = self.number("table", node["ids"][0]) if node["ids"] else None
            label = self.app.config.numfig_format["table"] % number if number else "Table"
            lines.insert(0, f"**{label}.** {self.inline(title)}\n")
        return "\n".join(lines)

    def table_cell(self, entry: nodes.Element) -> str:
        parts = [
            self.inline(child) if isinstance(child, nodes.paragraph) else self.block(child)
            for child in entry.children
        ]
        text = " ".join(part.strip() for part in parts if part.strip())
        return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|")

    # --- inline -----------------------------------------------------------------------------

    def inline(self, node: nodes.Element, links: bool = True) -> str:
        text = "".join(self.inline_node(child, links) for child in node.children)
        # soft line breaks: one newline, no indentation (it would read as code)
        return re.sub(r"[ \t]*\n[ \t\n]*", "\n", text)

    def inline_node(self, node: nodes.Node, links: bool) -> str:
        if isinstance(node, nodes.Text):
            return escape_text(str(node))
        if isinstance(node, nodes.math):
            return self.inline_math(node)
        if isinstance(node, nodes.literal):
            return code_span(node.astext())
        if isinstance(node, nodes.emphasis):
            return wrap_inline("*", self.inline(node, links))
        if isinstance(node, nodes.strong):
            return wrap_inline("**", self.inline(node, links))
        if isinstance(node, nodes.inline) and "bibtex-citation" in node.get("classes", []):
            return self.citation(node)
        if isinstance(node, nodes.reference):
            return self.reference(node, links)
        if isinstance(node, nodes.inline | nodes.abbreviation | nodes.generated):
            return self.inline(node, links)
        if isinstance(node, addnodes.pending_xref):
            return self.inline(node, links)
        if isinstance(node, nodes.subscript | nodes.superscript):
            tag = "sub" if isinstance(node, nodes.subscript) else "sup"
            return f"<{tag}>{self.inline(node, links)}</{tag}>"
        if isinstance(node, nodes.footnote_reference):
            return f"[{escape_text(node.astext())}]"
        if isinstance(node, nodes.raw):
            return node.astext() if "html" in node.get("format", "").split() else ""
        if isinstance(node, nodes.target | nodes.comment | addnodes.index):
            return ""
        raise UnsupportedNode(f"inline node <{node.tagname}>")

    def inline_math(self, node: nodes.math) -> str:
        latex = node.astext().strip()
        if self.in_table:  # a bare | would split the table's cell
            latex = latex.replace("\\|", "\\Vert ").replace("|", "\\vert ")
        math = f"${latex}$"
        # Renderers that follow Pandoc's rule (VS Code's) read "$...$1" as no math.
        following = node.next_node(descend=False, siblings=True)
        if isinstance(following, nodes.Text) and str(following)[:1].isdigit():
            math += " "
        return math

    def reference(self, node: nodes.reference, links: bool) -> str:
        text = self.inline(node, links)
        uri = node.get("refuri", "")
        if links and _URL_SCHEME.match(uri) and not node.get("internal"):
            return f"[{text}]({uri.replace(' ', '%20').replace(')', '%29')})"
        # A place in the book stands as its text: a number ("(3.1)", "Fig. 7.1") or code as
        # it is, the title of a section or chapter in italics.
        titled = any(
            "std-ref" in child.get("classes", [])
            for child in node.children
            if isinstance(child, nodes.Element)
        )
        return wrap_inline("*", text) if titled else text

    def citation(self, node: nodes.inline) -> str:
        """A citation as "Author (Year)" or "(Author, Year; Author, Year)"."""
        parts = []
        children = list(node.children)
        for position, child in enumerate(children):
            if isinstance(child, nodes.reference):
                citation_id = child.get("refuri", "").rpartition("#")[2]
                if citation_id:
                    self.cited.setdefault(citation_id, None)
                parts.append(self.inline(child, links=False))
            elif isinstance(child, nodes.Text):
                text = str(child).replace("[", "(").replace("]", ")")
                between = 0 < position < len(children) - 1
                if between and text == ", " and isinstance(children[position - 1], nodes.reference):
                    text = "; "  # between two works of one citation
                parts.append(escape_text(text))
            else:
                parts.append(self.inline_node(child, links=False))
        return "".join(parts)

    # --- the works cited --------------------------------------------------------------------

    def add_works_cited(self) -> None:
        if not self.cited:
            return
        domain: Any = self.env.get_domain("cite")
        entries = []
        for citation in domain.citations:  # the book's bibliography order
            if citation.citation_id in self.cited:
                label = citation_label(self.app, domain, citation)
                # the entry as the bibliography page shows it (docutils nodes), as CommonMark
                holder = nodes.paragraph(
                    "", "", *citation.formatted_entry.text.render(domain.backend)
                )
                text = " ".join(self.inline(holder).split())
                entries.append(f"- **{escape_text(label)}.** {text}")
        self.notebook.add_text("## Works cited\n\n" + "\n".join(entries))
        self.notebook.flush()


def citation_label(app: Sphinx, domain: Any, citation: Any) -> str:
    """ "Author, Year": the book's parenthetical citation of one work, without brackets."""
    from sphinxcontrib.bibtex.style.referencing import format_references
    from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

    info = SphinxReferenceInfo(
        builder=app.builder,
        fromdocname=citation.bibliography_key.docname,
        todocname=citation.bibliography_key.docname,
        citation_id=citation.citation_id,
        title=None,
        pre_text="",
        post_text="",
    )
    formatted = format_references(
        domain.reference_style, "p", [(citation.entry, citation.formatted_entry, info)]
    )
    text = "".join(node.astext() for node in formatted.render(domain.backend))
    return text.strip().removeprefix("[").removesuffix("]")


# --- Sphinx hooks ---------------------------------------------------------------------------


def is_chapter(app: Sphinx, docname: str) -> bool:
    """A page whose source is a notebook gets a reader notebook."""
    return str(app.env.doc2path(docname)).endswith(".ipynb")


def reader_path(app: Sphinx, docname: str) -> Path:
    return Path(app.outdir) / READER_FOLDER / f"{Path(docname).name}.ipynb"


def _theme_repository(app: Sphinx) -> tuple[str, str]:
    options = app.config.html_theme_options or {}
    return str(options.get("repository_url") or "").strip(), str(
        options.get("repository_branch") or "main"
    )


#: Notebooks written and seconds spent in this process (reported when the build finishes).
_STATS = {"written": 0.0, "seconds": 0.0}


def write_reader_notebook(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html" or not is_chapter(app, docname):
        return
    start = time.perf_counter()
    try:
        _write_reader_notebook(app, doctree, docname)
    finally:
        _STATS["seconds"] += time.perf_counter() - start


def _write_reader_notebook(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    source = nbformat.read(app.env.doc2path(docname), as_version=4)
    converter = ChapterConverter(app, docname, source)
    try:
        cells = converter.convert(doctree)
    except UnsupportedNode as error:
        logger.warning(
            "reader notebook not written: %s", error, location=docname, type="reader_notebooks"
        )
        return
    skipped = [
        index
        for index, cell in enumerate(source.cells)
        if cell.cell_type == "code" and index not in converter.code_cells_seen
    ]
    if skipped:  # a removed cell might define what later cells use
        logger.warning(
            "reader notebook lacks code cells %s (removed from the page?)",
            skipped,
            location=docname,
            type="reader_notebooks",
        )
    for index, cell in enumerate(source.cells):
        if cell.cell_type == "code" and "myst_nb" in reader_code(cell.source):
            logger.warning(
                "code cell %d uses myst_nb beyond `%s`: the reader notebook cannot run it",
                index,
                GLUE_IMPORT,
                location=docname,
                type="reader_notebooks",
            )
    url, branch = _theme_repository(app)
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(setup_cell_source(url, branch)), *cells],
        metadata={
            "kernelspec": dict(source.metadata.get("kernelspec", {})),
            "language_info": {"name": "python"},
        },
    )
    # nbformat gives new cells random ids; numbered ones make every build write the same file
    # (the repository keeps a copy, notebooks/, that a test compares with the build's).
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    target = reader_path(app, docname)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(notebook)
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _STATS["written"] += 1


def report(app: Sphinx, exception: BaseException | None) -> None:
    if exception is None and _STATS["written"]:
        logger.info(
            "reader notebooks: %d written to %s/ in %.2f s",
            _STATS["written"],
            READER_FOLDER,
            _STATS["seconds"],
        )


def add_download_entry(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """The chapter's download menu offers the reader notebook first, clearly labelled."""
    if doctree is None or not is_chapter(app, pagename):
        return
    for button in context.get("header_buttons", []):
        if button.get("label") != "download-buttons":
            continue
        for entry in button["buttons"]:
            if entry.get("label") == "download-source-button" and entry.get("text") == ".ipynb":
                entry["text"] = SOURCE_TEXT
                entry["tooltip"] = "Download the chapter's source (MyST notebook)"
        url = context["pathto"](f"{READER_FOLDER}/{Path(pagename).name}.ipynb", 1)
        button["buttons"].insert(
            0,
            {
                "type": "link",
                "url": url,
                "text": DOWNLOAD_TEXT,
                "tooltip": "Download this chapter as a plain notebook for Jupyter, "
                "Colab or VS Code",
                "icon": "fas fa-code",
                "label": "download-reader-notebook-button",
            },
        )


def note_template(app: Sphinx, doctree: nodes.document) -> None:
    """A chapter is rewritten (and its reader notebook with it) when the setup cell changes."""
    if is_chapter(app, app.env.docname):
        app.env.note_dependency(str(SETUP_TEMPLATE))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", note_template)
    app.connect("doctree-resolved", write_reader_notebook)
    # after the theme has built its header buttons (priority 501)
    app.connect("html-page-context", add_download_entry, priority=600)
    app.connect("build-finished", report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

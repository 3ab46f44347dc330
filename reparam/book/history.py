"""The timeline of the reparameterization trick, and checks that keep the citations honest.

Book chapter "History". The timeline lives in the package data file
``reparam/book/_data/timeline.csv`` with one row per event and the columns

- ``date``: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` — the first public version of the work: the
  day where it is known, otherwise the month encoded in the arXiv identifier (``YYMM.NNNNN``),
  otherwise the year of publication;
- ``label``: a short description;
- ``category``: ``root`` (before the 2014 papers), ``2014`` (the three 2014 papers) or
  ``after``;
- ``key``: the BibTeX key, in the book's ``references.bib`` (:func:`load_bibliography`), of
  the work that documents the event.

This module loads and validates that file, reads the keys and fields of a BibTeX file with a
small regex-based reader (no dependency), and collects the keys cited by ``{cite...}`` roles in
the book's pages, so that tests can check that every event cites a known work and every work in
the bibliography is cited.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = [
    "CATEGORIES",
    "BibEntry",
    "TimelineEvent",
    "cited_keys",
    "load_bibliography",
    "load_timeline",
    "parse_date",
    "read_bibtex",
    "validate_timeline",
]

#: The event categories, in the order the figure's legend lists them.
CATEGORIES: tuple[str, ...] = ("root", "2014", "after")

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_COLUMNS = ("date", "label", "category", "key")


def parse_date(text: str) -> tuple[int, int | None, int | None]:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` into ``(year, month, day)``.

    Missing parts are ``None``. Raises ``ValueError`` for any other form or an impossible
    date (month 13, 30 February, ...).
    """
    if not isinstance(text, str):
        raise TypeError(f"date must be a str, got {type(text).__name__}")
    match = _DATE.match(text.strip())
    if match is None:
        raise ValueError(f"date must look like YYYY, YYYY-MM or YYYY-MM-DD, got {text!r}")
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    try:
        datetime.date(year, month or 1, day or 1)
    except ValueError as error:
        raise ValueError(f"date {text!r} is not a calendar date: {error}") from error
    return year, month, day


@dataclass(frozen=True)
class TimelineEvent:
    """One row of the timeline.

    Attributes:
        date: the date as written in the file (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``).
        label: short description.
        category: one of :data:`CATEGORIES`.
        key: BibTeX key of the work documenting the event.
    """

    date: str
    label: str
    category: str
    key: str

    @property
    def year(self) -> int:
        return parse_date(self.date)[0]

    @property
    def authors(self) -> str:
        """Who did it, the label's part before its first colon (the whole label if none)."""
        return self.label.split(":", 1)[0].strip()

    @property
    def author_year(self) -> str:
        """``"<authors> <year>"``, e.g. ``"Price 1958"``: the event's name in the figure."""
        return f"{self.authors} {self.year}"

    @property
    def precision(self) -> str:
        """``"year"``, ``"month"`` or ``"day"``: how much of the date is known."""
        _, month, day = parse_date(self.date)
        return "day" if day is not None else "month" if month is not None else "year"

    @property
    def decimal_year(self) -> float:
        """The date as a fractional year, placed mid-period when only the year or month is known.

        ``"1958"`` -> 1958.5, ``"2015-06"`` -> the middle of June 2015, a full date -> that day.
        """
        year, month, day = parse_date(self.date)
        start = datetime.date(year, 1, 1)
        length = (datetime.date(year + 1, 1, 1) - start).days
        if month is None:
            return year + 0.5
        first = datetime.date(year, month, 1)
        if day is None:
            following = datetime.date(year + (month == 12), month % 12 + 1, 1)
            middle = (first - start).days + (following - first).days / 2
            return year + middle / length
        return year + (datetime.date(year, month, day) - start).days / length


def load_timeline(path: str | Path | None = None) -> list[TimelineEvent]:
    """Read the timeline CSV (the package's own ``_data/timeline.csv`` if ``path`` is omitted).

    Rows are returned in the order of the file, after :func:`validate_timeline` has checked
    their form (dates, categories, non-empty labels and keys). Key existence in a bibliography
    is checked separately, by passing the keys to :func:`validate_timeline`.
    """
    if path is None:
        text = resources.files("reparam.book").joinpath("_data/timeline.csv").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise ValueError(f"timeline columns must be {_COLUMNS}, got {reader.fieldnames}")
    events = [
        TimelineEvent(
            date=(row["date"] or "").strip(),
            label=(row["label"] or "").strip(),
            category=(row["category"] or "").strip(),
            key=(row["key"] or "").strip(),
        )
        for row in reader
    ]
    validate_timeline(events)
    return events


def validate_timeline(
    events: Iterable[TimelineEvent], bib_keys: Iterable[str] | None = None
) -> None:
    """Raise ``ValueError`` listing every problem found in ``events``.

    Checks that every date parses, every category is one of :data:`CATEGORIES`, labels and
    keys are non-empty, no (date, label) pair repeats, and, if ``bib_keys`` is given, that every
    key is one of them.
    """
    known = set(bib_keys) if bib_keys is not None else None
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    count = 0
    for index, event in enumerate(events, start=1):
        count += 1
        where = f"event {index} ({event.label!r})"
        try:
            parse_date(event.date)
        except (TypeError, ValueError) as error:
            problems.append(f"{where}: {error}")
        if event.category not in CATEGORIES:
            problems.append(
                f"{where}: category must be one of {CATEGORIES}, got {event.category!r}"
            )
        if not event.label:
            problems.append(f"{where}: empty label")
        if not event.key:
            problems.append(f"{where}: empty citation key")
        elif known is not None and event.key not in known:
            problems.append(f"{where}: key {event.key!r} is not in the bibliography")
        if (event.date, event.label) in seen:
            problems.append(f"{where}: duplicate event")
        seen.add((event.date, event.label))
    if count == 0:
        problems.append("the timeline has no events")
    if problems:
        raise ValueError("invalid timeline:\n" + "\n".join(problems))


@dataclass(frozen=True)
class BibEntry:
    """A BibTeX entry: its type (lower case), key, and fields (names lower case, raw values)."""

    entry_type: str
    key: str
    fields: Mapping[str, str] = field(default_factory=dict)


_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_FIELD_NAME = re.compile(r"\s*([A-Za-z][\w\-]*)\s*=\s*")


def _matching(text: str, start: int, opening: str) -> int:
    """Index of the delimiter closing the one at ``start`` (braces nest)."""
    closing = "}" if opening == "{" else ")"
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == "{" or (opening == "(" and char == "("):
            depth += 1
        elif char == closing or (opening == "(" and char == ")"):
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening} starting at character {start}")


def _read_value(body: str, position: int) -> tuple[str, int]:
    """Read one field value (braced, quoted or bare, with # concatenation) from ``position``."""
    parts: list[str] = []
    while True:
        while position < len(body) and body[position].isspace():
            position += 1
        if position >= len(body):
            raise ValueError("a field has no value")
        char = body[position]
        if char == "{":
            end = _matching(body, position, "{")
            parts.append(body[position + 1 : end])
            position = end + 1
        elif char == '"':
            end = position + 1
            depth = 0
            while end < len(body) and not (body[end] == '"' and depth == 0):
                depth += body[end] == "{"
                depth -= body[end] == "}"
                end += 1
            parts.append(body[position + 1 : end])
            position = end + 1
        else:
            match = re.match(r"[^,#\s]+", body[position:])
            if match is None:
                raise ValueError(f"cannot read a field value at {body[position : position + 20]!r}")
            parts.append(match.group(0))
            position += match.end()
        while position < len(body) and body[position].isspace():
            position += 1
        if position < len(body) and body[position] == "#":
            position += 1
            continue
        return "".join(parts), position


def load_bibliography() -> dict[str, BibEntry]:
    """The book's bibliography, ``{key: BibEntry}``, read from the package's own copy.

    ``reparam/book/_data/references.bib`` is the one BibTeX file of the book: the build's
    bibliography reads it, and so does this function, so the history chapter runs wherever
    the package is installed (a clone is not needed).
    """
    text = resources.files("reparam.book").joinpath("_data/references.bib").read_text("utf-8")
    return _parse_bibtex(text)


def read_bibtex(path: str | Path) -> dict[str, BibEntry]:
    """Read a BibTeX file into ``{key: BibEntry}``.

    A small reader for well-formed files such as the book's ``references.bib``: it skips
    ``@comment``, ``@string`` and ``@preamble`` blocks and text outside entries, and raises
    ``ValueError`` on a malformed entry or a duplicate key.
    """
    return _parse_bibtex(Path(path).read_text("utf-8"))


def _parse_bibtex(text: str) -> dict[str, BibEntry]:
    entries: dict[str, BibEntry] = {}
    position = 0
    while True:
        match = _ENTRY_START.search(text, position)
        if match is None:
            return entries
        entry_type = match.group(1).lower()
        end = _matching(text, match.end(2) - 1, match.group(2))
        body = text[match.end(2) : end]
        position = end + 1
        if entry_type in ("comment", "string", "preamble"):
            continue
        key, _, rest = body.partition(",")
        key = key.strip()
        if not key or any(char.isspace() for char in key):
            raise ValueError(f"@{entry_type} entry with a missing or malformed key: {key!r}")
        if key in entries:
            raise ValueError(f"duplicate BibTeX key {key!r}")
        fields: dict[str, str] = {}
        cursor = 0
        while True:
            name_match = _FIELD_NAME.match(rest, cursor)
            if name_match is None:
                if rest[cursor:].strip(" \t\r\n,"):
                    raise ValueError(f"cannot parse the fields of entry {key!r}")
                break
            value, cursor = _read_value(rest, name_match.end())
            fields[name_match.group(1).lower()] = " ".join(value.split())
            while cursor < len(rest) and rest[cursor] in " \t\r\n,":
                cursor += 1
        entries[key] = BibEntry(entry_type, key, fields)


_CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)*\}`([^`]*)`")


def _page_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text("utf-8"))
        return "\n".join(
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in notebook.get("cells", [])
        )
    return path.read_text("utf-8")


def cited_keys(paths: Iterable[str | Path]) -> set[str]:
    """Every key cited by a ``{cite}``, ``{cite:t}``, ``{cite:p}``, ... role in the given pages.

    Markdown files are read as text; notebooks (``.ipynb``) are read cell by cell, so a role
    is found whatever cell type holds it. Keys separated by commas are split.
    """
    keys: set[str] = set()
    for path in paths:
        for match in _CITE_ROLE.finditer(_page_text(Path(path))):
            keys.update(key.strip() for key in match.group(1).split(",") if key.strip())
    return keys

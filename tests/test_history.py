"""The timeline data, the BibTeX reader, and the book's citations against references.bib."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from reparam.book import history
from reparam.book.plotting.history import plot_timeline

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "reparam" / "book" / "_data" / "references.bib"
BOOK_PAGES = sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "book").glob("*.ipynb"))


@pytest.fixture(scope="module")
def bibliography() -> dict[str, history.BibEntry]:
    return history.read_bibtex(BIB)


def test_load_bibliography_reads_the_file_the_build_cites() -> None:
    # The package's copy is the build's bibliography (_config.yml), not a second copy.
    config = (ROOT / "_config.yml").read_text("utf-8")
    assert "  - reparam/book/_data/references.bib" in config
    assert history.load_bibliography() == history.read_bibtex(BIB)
    assert len(history.load_bibliography()) > 30


@pytest.fixture(scope="module")
def timeline() -> list[history.TimelineEvent]:
    return history.load_timeline()


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1958", (1958, None, None)), ("2015-06", (2015, 6, None)), ("2013-12-20", (2013, 12, 20))],
)
def test_parse_date_accepts_the_three_forms(
    text: str, expected: tuple[int, int | None, int | None]
) -> None:
    assert history.parse_date(text) == expected


@pytest.mark.parametrize("text", ["58", "2019/06", "2019-13", "2019-02-30", "2019-6", "", "x"])
def test_parse_date_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="date"):
        history.parse_date(text)


def test_decimal_year_places_partial_dates_mid_period() -> None:
    event = history.TimelineEvent("1958", "x", "root", "k")
    assert event.decimal_year == 1958.5 and event.precision == "year"
    june = history.TimelineEvent("2015-06", "x", "after", "k").decimal_year
    assert 2015 + 151 / 365 < june < 2015 + 181 / 365  # inside June
    day = history.TimelineEvent("2016-01-01", "x", "after", "k")
    assert day.decimal_year == 2016.0 and day.precision == "day"


# --- the timeline file ---------------------------------------------------------------------


def test_timeline_validates_against_the_bibliography(
    timeline: list[history.TimelineEvent], bibliography: dict[str, history.BibEntry]
) -> None:
    assert len(timeline) >= 20
    history.validate_timeline(timeline, bibliography)  # dates parse, keys exist
    assert {event.category for event in timeline} == set(history.CATEGORIES)


def test_the_three_2014_papers_and_their_first_public_versions(
    timeline: list[history.TimelineEvent],
) -> None:
    dates = {event.key: event.date for event in timeline if event.category == "2014"}
    # From ../shared/FACTS.md: arXiv v1 dates; Titsias & Lázaro-Gredilla: ICML 2014, no arXiv.
    assert dates == {
        "kingma2014auto": "2013-12-20",
        "rezende2014stochastic": "2014-01-16",
        "titsias2014doubly": "2014",
    }


def test_arxiv_months_agree_with_the_identifiers(
    timeline: list[history.TimelineEvent], bibliography: dict[str, history.BibEntry]
) -> None:
    # A date given to the month is read off the arXiv identifier YYMM.NNNNN.
    for event in timeline:
        year, month, day = history.parse_date(event.date)
        eprint = bibliography[event.key].fields.get("eprint")
        if month is not None and day is None and eprint and event.category != "root":
            assert eprint[:4] == f"{year % 100:02d}{month:02d}", event


def test_validate_timeline_reports_every_problem() -> None:
    events = [
        history.TimelineEvent("2019-13", "bad month", "root", "price1958useful"),
        history.TimelineEvent("1958", "bad category", "ancient", "price1958useful"),
        history.TimelineEvent("1958", "unknown key", "root", "nobody1900nothing"),
        history.TimelineEvent("1958", "", "root", ""),
    ]
    with pytest.raises(ValueError) as error:
        history.validate_timeline(events, {"price1958useful"})
    message = str(error.value)
    for fragment in ("not a calendar date", "category", "not in the bibliography", "empty label"):
        assert fragment in message
    with pytest.raises(ValueError, match="no events"):
        history.validate_timeline([])


def test_load_timeline_rejects_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("when,what\n1958,Price\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        history.load_timeline(path)


# --- the BibTeX reader ---------------------------------------------------------------------


def test_read_bibtex_handles_braces_quotes_strings_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "x.bib"
    path.write_text(
        """% a comment line, outside any entry
@comment{ignored}
@string{jmlr = "Journal of Machine Learning Research"}
@Article{smith2020nested,
  Title   = {The {N}ested {B}races {of} Titles},
  journal = "Quoted {J}ournal",
  year    = 2020,
  note    = "a" # "b",
}
""",
        encoding="utf-8",
    )
    entries = history.read_bibtex(path)
    assert list(entries) == ["smith2020nested"]
    entry = entries["smith2020nested"]
    assert entry.entry_type == "article"
    assert entry.fields["title"] == "The {N}ested {B}races {of} Titles"
    assert entry.fields["journal"] == "Quoted {J}ournal"
    assert entry.fields["year"] == "2020" and entry.fields["note"] == "ab"


def test_read_bibtex_rejects_duplicates_and_unbalanced_braces(tmp_path: Path) -> None:
    path = tmp_path / "dup.bib"
    path.write_text("@misc{a2020b, year={2020}}\n@misc{a2020b, year={2021}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        history.read_bibtex(path)
    path.write_text("@misc{a2020b, title={open\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unbalanced"):
        history.read_bibtex(path)


# --- references.bib ------------------------------------------------------------------------

KEY_RULE = re.compile(r"^[a-z]+\d{4}[a-z]+$")  # firstauthorYEARfirstword


def test_bibliography_entries_are_well_formed(bibliography: dict[str, history.BibEntry]) -> None:
    assert bibliography, "references.bib has no entries"
    for key, entry in bibliography.items():
        fields = entry.fields
        assert KEY_RULE.match(key), f"{key}: key must be firstauthorYEARfirstword"
        key_year = re.search(r"\d{4}", key)
        assert key_year is not None and key_year.group(0) == fields["year"], f"{key}: year differs"
        assert fields.get("author") and fields.get("title"), f"{key}: author and title needed"
        if "eprint" in fields:
            assert re.fullmatch(r"\d{4}\.\d{4,5}", fields["eprint"]), f"{key}: arXiv id"
            assert fields.get("archiveprefix") == "arXiv", f"{key}: archiveprefix = {{arXiv}}"
        if "doi" in fields:
            assert fields["doi"].startswith("10."), f"{key}: a DOI starts with 10."


def test_bibliography_fields_checked_against_facts(
    bibliography: dict[str, history.BibEntry],
) -> None:
    """Spot checks of the numbers ../shared/FACTS.md gives from the primary sources."""
    expected = {
        "rezende2014stochastic": {"volume": "32", "pages": "1278--1286", "eprint": "1401.4082"},
        "titsias2014doubly": {"volume": "32", "pages": "1971--1979"},
        "kingma2014auto": {"eprint": "1312.6114"},
        "price1958useful": {"volume": "4", "number": "2", "pages": "69--72", "year": "1958"},
        "bonnet1964transformations": {"volume": "19", "pages": "203--220", "year": "1964"},
        "ho1983perturbation": {"volume": "40", "number": "4", "pages": "559--582"},
        "glynn1990likelihood": {"volume": "33", "number": "10", "pages": "75--84"},
        "williams1992simple": {"volume": "8", "number": "3--4", "pages": "229--256"},
        "salimans2013fixed": {"volume": "8", "number": "4", "pages": "837--882"},
        "ranganath2014black": {"volume": "33", "pages": "814--822", "eprint": "1401.0118"},
        "maddison2017concrete": {"year": "2017", "eprint": "1611.00712"},
        "figurnov2018implicit": {"pages": "441--452", "eprint": "1805.08498"},
        "mohamed2020monte": {"volume": "21", "number": "132", "pages": "1--62"},
    }
    for key, fields in expected.items():
        if key not in bibliography:
            continue  # another chapter's entry not yet written; presence is checked elsewhere
        for name, value in fields.items():
            assert bibliography[key].fields.get(name) == value, (key, name)


def test_every_cited_key_exists(bibliography: dict[str, history.BibEntry]) -> None:
    missing = history.cited_keys(BOOK_PAGES) - set(bibliography)
    assert not missing, f"cited but not in references.bib: {sorted(missing)}"


def test_every_bibliography_entry_is_cited_in_the_book(
    bibliography: dict[str, history.BibEntry],
) -> None:
    # Chapters are written in parallel: this passes once every chapter that owns an entry
    # has landed (an entry nobody cites should be removed, not kept).
    uncited = set(bibliography) - history.cited_keys(BOOK_PAGES)
    assert not uncited, f"in references.bib but never cited: {sorted(uncited)}"


def test_cited_keys_reads_markdown_and_notebooks(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("see {cite:t}`a2020b` and {cite:p}`c2021d, e2022f` and {cite}`g2023h`")
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "source": ["{cite:ps}`i2024j`\n"], "metadata": {}},
                    {"cell_type": "code", "source": "print(1)", "metadata": {}},
                ]
            }
        )
    )
    assert history.cited_keys([page, notebook]) == {
        "a2020b",
        "c2021d",
        "e2022f",
        "g2023h",
        "i2024j",
    }


# --- the figure ----------------------------------------------------------------------------


def test_timeline_figure_has_one_labelled_row_per_event(
    timeline: list[history.TimelineEvent],
) -> None:
    fig = plot_timeline(timeline)
    early, late = fig.axes[:2]
    labels = [tick.get_text() for ax in (early, late) for tick in ax.get_yticklabels()]
    assert len(labels) == len(timeline)
    assert sorted(labels) == sorted(event.author_year for event in timeline)
    # rows are named by authors and year, never by citation key
    assert not any(event.key in " ".join(labels) for event in timeline)
    assert early.get_xlabel() and late.get_xlabel()
    assert early.get_legend() is not None
    plt.close(fig)


def test_author_year_names_the_event_by_its_label_and_date() -> None:
    event = history.TimelineEvent("2016-11-03", "Jang et al.: Gumbel-softmax", "after", "k")
    assert event.authors == "Jang et al." and event.author_year == "Jang et al. 2016"
    assert history.TimelineEvent("1958", "no colon", "root", "k").author_year == "no colon 1958"


def test_timeline_figure_needs_events_on_both_sides(timeline: list[history.TimelineEvent]) -> None:
    with pytest.raises(ValueError, match="split_year"):
        plot_timeline(timeline, split_year=1900.0)

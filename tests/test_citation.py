"""The "How to cite" page, CITATION.cff and the package version agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import reparam

ROOT = Path(__file__).resolve().parents[1]


def bibtex_fields() -> dict[str, str]:
    page = (ROOT / "book" / "how-to-cite.md").read_text()
    block = re.search(r"```bibtex\n(.*?)```", page, re.S)
    assert block, "how-to-cite.md has a bibtex block"
    return {k: v for k, v in re.findall(r"(\w+)\s*=\s*\{+(.*?)\}+,?\n", block.group(1))}


def test_citation_cff_matches_how_to_cite_page() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = bibtex_fields()
    assert cff["title"] == bib["title"]
    assert cff["version"] == bib["version"] == reparam.__version__
    assert str(cff["date-released"]).startswith(bib["year"])
    assert [a["name"] for a in cff["authors"]] == [bib["author"]]


def test_citation_cff_is_valid_shape() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors", "version", "license"):
        assert key in cff

"""Driver of the mutation run (mutmut 3): generate, sample, run, report.

Run by ``tools/mutation/run.sh`` from the root of a *scratch copy* of the repository (never
from the working tree: mutmut writes a ``mutants/`` folder next to the code). Subcommands:

- ``generate``: write every mutant of the core modules (``setup.cfg``'s ``only_mutate``) into
  ``mutants/``, without running anything.
- ``sample --per-module K --seed S``: choose ``K`` mutants uniformly at random from each core
  module (all of them when a module has fewer), write their names to ``mutants/sample.txt``.
- ``report``: count the results of the sampled mutants per module and write a Markdown table
  (``--out``); survivors listed in ``equivalent.json`` (matched by function and diff, so the
  list survives renumbering) count as equivalent, the others as real test gaps.
- ``pending``: print the sampled mutants still to run (no result yet, e.g. in a function
  changed since the last run) and the survivors not known to be equivalent.
- ``survivors``: print the names of the sampled mutants that survived and are not known to be
  equivalent (to re-run them after strengthening the tests).
- ``show NAME...``: print the diff of each mutant.
- ``equivalent NAME REASON [--killed-on-disk]``: record a survivor in ``equivalent.json``.

The mutmut internals used here are those of mutmut 3.8.1 (``requirements`` of README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
EQUIVALENT = HERE / "equivalent.json"
SAMPLE = Path("mutants") / "sample.txt"

#: What a module is called in the report: one row per core module (the catalog is one module).
MODULES = {
    "reparam.estimators": "estimators",
    "reparam.catalog": "catalog",
    "reparam.discrete": "discrete",
    "reparam.variance": "variance",
    "reparam.gaussian_identities": "gaussian_identities",
    "reparam.montecarlo": "montecarlo",
    "reparam.book.vae": "vae",
    "reparam.book.logistic": "logistic",
    "reparam.surrogate": "surrogate",
    "reparam.distributions": "distributions",
    "reparam.control_variates": "control_variates",
    "reparam.noise": "noise",
    "reparam.normal": "normal",
    "reparam.multisample": "multisample",
    "reparam.sampling": "sampling",
    "reparam.book.optim": "optim",
    "reparam.weights": "weights",
    "reparam.cholesky": "cholesky",
    "reparam.book.regression": "regression",
    "reparam.book.bnn": "bnn",
    "reparam.binary_gradients": "binary_gradients",
    "reparam.quadrature": "quadrature",
    "reparam.mixture": "mixture",
    "reparam.rejection": "rejection",
    "reparam.policy": "policy",
    "reparam.book.bandit": "bandit",
    "reparam.diffusion": "diffusion",
    "reparam.book.twosample": "twosample",
    "reparam.flows": "flows",
    "reparam.book.flows": "book_flows",
}


def _module(mutant: str) -> str:
    for prefix, label in MODULES.items():
        if mutant.startswith(prefix + "."):
            return label
    raise ValueError(f"mutant {mutant} is outside the core modules")


def _mutation_data() -> dict[str, tuple[Path, int | None]]:
    """Every generated mutant: name -> (source path, exit code or None if not run)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.utils.file_utils import walk_mutatable_files

    out: dict[str, tuple[Path, int | None]] = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in data.exit_code_by_key.items():
            out[name] = (path, code)
    return out


def generate(_: argparse.Namespace) -> None:
    import os

    from mutmut.__main__ import create_mutants
    from mutmut.mutation.trampoline import set_mutant_under_test
    from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

    set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    stats = create_mutants(2)
    print(f"files: {stats.mutated} mutated, {stats.unmodified} unchanged, {stats.ignored} copied")
    counts = Counter(_module(name) for name in _mutation_data())
    for label in MODULES.values():
        print(f"{label:>20}: {counts[label]} mutants")


def _rank(name: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def sample(args: argparse.Namespace) -> None:
    """A uniform random sample without replacement of each module's mutants: the ``K``
    mutants of smallest seeded hash ("bottom-K"). Unlike a draw from the list of names, it
    is stable when the source changes: mutants of untouched functions keep their names, so
    they stay in (or out of) the sample and their cached results stay valid."""
    by_module: dict[str, list[str]] = defaultdict(list)
    for name in _mutation_data():
        by_module[_module(name)].append(name)
    chosen: list[str] = []
    for label in MODULES.values():
        names = by_module[label]
        picked = sorted(names, key=lambda name: _rank(name, args.seed))[: args.per_module]
        chosen.extend(sorted(picked))
        print(f"{label:>20}: {len(picked)} of {len(names)}")
    SAMPLE.write_text("\n".join(chosen) + "\n")
    print(f"{len(chosen)} mutants -> {SAMPLE}")


def _sampled() -> list[str]:
    return [line for line in SAMPLE.read_text().splitlines() if line]


def _diff(name: str, path: Path) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return str(get_diff_for_mutant(name, path=path))


def _changed_lines(diff: str) -> list[str]:
    """The - and + lines of a diff, stripped: a key that survives renumbering and line shifts."""
    return [
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _function(name: str) -> str:
    return name.rsplit("__mutmut_", 1)[0]


def _equivalents() -> list[dict[str, object]]:
    if not EQUIVALENT.exists():
        return []
    entries: list[dict[str, object]] = json.loads(EQUIVALENT.read_text())
    return entries


def _match(name: str, path: Path, entries: list[dict[str, object]]) -> dict[str, object] | None:
    """The entry of equivalent.json recorded for this mutant (same function, same change)."""
    lines = _changed_lines(_diff(name, path))
    for entry in entries:
        if entry["function"] == _function(name) and entry["change"] == lines:
            return entry
    return None


def _is_equivalent(name: str, path: Path, entries: list[dict[str, object]]) -> str | None:
    """The recorded reason if this survivor is recorded as equivalent, or as killed when
    applied on disk (prefixed ``killed on disk:``)."""
    entry = _match(name, path, entries)
    if entry is None:
        return None
    prefix = "killed on disk: " if entry.get("killed_on_disk") else ""
    return prefix + str(entry["reason"])


STATUS = {0: "survived", 1: "killed", 3: "killed", 33: "no tests", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}  # fmt: skip


def report(args: argparse.Namespace) -> None:
    data = _mutation_data()
    entries = _equivalents()
    rows: dict[str, Counter[str]] = {label: Counter() for label in MODULES.values()}
    totals: Counter[str] = Counter()
    equivalent_lines = []
    real_lines = []
    other_lines = []
    disk_lines = []
    for name in _sampled():
        if name not in data:
            print(f"warning: {name} no longer exists (source changed since sampling)")
            continue
        path, code = data[name]
        status = STATUS.get(code, "suspicious")
        label = _module(name)
        if status in ("survived", "no tests"):  # no test reaches it: it survives all of them
            note = " (no test reaches it)" if status == "no tests" else ""
            reason = _is_equivalent(name, path, entries)
            if reason is not None and reason.startswith("killed on disk: "):
                # A mutant mutmut cannot switch on (code run at import time, before the
                # mutant is chosen): applied to the source on disk, the tests fail.
                status = "killed"
                disk_lines.append(f"- `{name}`: {reason.removeprefix('killed on disk: ')}")
            elif reason is not None:
                status = "survived-equivalent"
                equivalent_lines.append(f"- `{name}`{note}: {reason}")
            else:
                status = "survived-real"
                real_lines.append(f"- `{name}`{note}")
        elif status == "suspicious" and (
            disk := _is_equivalent(name, path, entries) or ""
        ).startswith("killed on disk: "):
            # mutmut's run ended without a result; applied to the source on disk by hand,
            # the tests fail
            status = "killed"
            disk_lines.append(f"- `{name}`: {disk.removeprefix('killed on disk: ')}")
        elif status != "killed":
            other_lines.append(f"- `{name}`: {status}")
        rows[label][status] += 1
        rows[label]["total"] += 1
    population = Counter(_module(name) for name in data)
    header = (
        "| module | all mutants | sampled | killed | survived (equivalent) | survived (real) "
        "| timeout | other | kill rate of non-equivalent |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = []

    def line(label: str, c: Counter[str]) -> str:
        other = c["total"] - c["killed"] - c["survived-equivalent"] - c["survived-real"]
        other -= c["timeout"]
        # A timeout is counted as detected (the mutant did not pass the tests).
        denominator = c["total"] - c["survived-equivalent"]
        detected = c["killed"] + c["timeout"]
        rate = f"{100 * detected / denominator:.1f} %" if denominator else "—"
        size = sum(population.values()) if label == "**all**" else population[label]
        return (
            f"| {label} | {size} | {c['total']} | {c['killed']} | {c['survived-equivalent']} "
            f"| {c['survived-real']} | {c['timeout']} | {other} | {rate} |"
        )

    for label, c in rows.items():
        body.append(line(label, c))
        totals.update(c)
    body.append(line("**all**", totals))
    text = header + "\n".join(body) + "\n"
    text += "\nSurvivors judged equivalent:\n\n" + ("\n".join(equivalent_lines) or "- none") + "\n"
    text += "\nSurvivors that are real test gaps:\n\n" + ("\n".join(real_lines) or "- none") + "\n"
    if disk_lines:
        text += (
            "\nMutants mutmut cannot run (switched on at import, or a run without a result), "
            "applied to the source on disk instead "
            "(counted as killed: the tests fail):\n\n" + "\n".join(disk_lines) + "\n"
        )
    if other_lines:
        text += "\nOther outcomes:\n\n" + "\n".join(other_lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


def survivors(_: argparse.Namespace) -> None:
    data = _mutation_data()
    entries = _equivalents()
    for name in _sampled():
        if name not in data or data[name][1] not in (0, 33):
            continue
        if _is_equivalent(name, data[name][0], entries) is None:
            print(name)


def pending(_: argparse.Namespace) -> None:
    """Sampled mutants without a result (new, or in a function changed since), and the
    survivors not known to be equivalent: what a re-run after changes must test."""
    data = _mutation_data()
    entries = _equivalents()
    for name in _sampled():
        if name not in data:
            continue
        path, code = data[name]
        if code is None or (code in (0, 33) and _is_equivalent(name, path, entries) is None):
            print(name)


def show(args: argparse.Namespace) -> None:
    data = _mutation_data()
    for name in args.names:
        path, code = data[name]
        print(f"# {name}: {STATUS.get(code, 'suspicious')}")
        print(_diff(name, path))


def record_equivalent(args: argparse.Namespace) -> None:
    """Add a survivor to equivalent.json with the reason given (``--killed-on-disk``: a
    mutant mutmut cannot switch on, checked by applying it to the source by hand)."""
    data = _mutation_data()
    entries = _equivalents()
    path, _ = data[args.name]
    entry: dict[str, object] = {
        "function": _function(args.name),
        "change": _changed_lines(_diff(args.name, path)),
        "reason": args.reason,
        "example": args.name,
    }
    if args.killed_on_disk:
        entry["killed_on_disk"] = True
    entries = [e for e in entries if _match(args.name, path, [e]) is None] + [entry]
    EQUIVALENT.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True)
    sub.add_parser("generate").set_defaults(func=generate)
    p = sub.add_parser("sample")
    p.add_argument("--per-module", type=int, required=True)
    p.add_argument("--seed", type=int, default=10)
    p.set_defaults(func=sample)
    p = sub.add_parser("report")
    p.add_argument("--out")
    p.set_defaults(func=report)
    sub.add_parser("survivors").set_defaults(func=survivors)
    sub.add_parser("pending").set_defaults(func=pending)
    p = sub.add_parser("show")
    p.add_argument("names", nargs="+")
    p.set_defaults(func=show)
    p = sub.add_parser("equivalent")
    p.add_argument("name")
    p.add_argument("reason")
    p.add_argument("--killed-on-disk", action="store_true")
    p.set_defaults(func=record_equivalent)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Several seeds of one measurement: every run, and per score their mean and spread.

One CPU run is good to a few hundredths on aisegcell (bench/README.md), so each training command
takes `--seeds 0,1,2`, trains once per seed and reports every run beside a summary. The spread is
given both ways: "sd" is the sample standard deviation over the seeds (n - 1 in the denominator),
"min" and "max" their range; "values" keeps each seed's score, in the order of "seeds". The same
summaries are printed as a table on stderr when the command ends.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

SCORES = ("pixel_f1", "iou", "object_f1")
SPREAD = "sd = sample standard deviation over the seeds (n - 1), min-max = their range"


def seeds_of(args: argparse.Namespace) -> list[int]:
    """--seeds, else --seed alone: one run, as every command makes by default."""
    return list(args.seeds or [args.seed])


def seed_name(seeds: list[int], seed: int) -> str:
    """How a run's progress bar names its seed: not at all when there is only one."""
    return f"seed {seed}, " if len(seeds) > 1 else ""


def spread(
    runs: Sequence[dict[str, Any]],
    ensemble: dict[str, Any] | None = None,
    *,
    metrics: Sequence[str] = SCORES,
    keep: Sequence[str] = ("train_images",),
) -> dict[str, Any]:
    """Each metric's values over the seeds' `runs` (each with a "seed"), their mean, sd and range,
    beside their ensemble's score (None without one: some commands have none, and runs reused
    from a file keep no probabilities). `keep` names keys copied from the first run."""
    if len(runs) < 2:
        raise ValueError(f"a spread needs the runs of at least two seeds, not {len(runs)}")
    summary: dict[str, Any] = {key: runs[0][key] for key in keep if key in runs[0]}
    summary["seeds"] = [run["seed"] for run in runs]
    for metric in metrics:
        values = np.array([run[metric] for run in runs], dtype=np.float64)
        summary[metric] = {
            "values": [round(float(value), 4) for value in values],
            "mean": round(float(values.mean()), 4),
            "sd": round(float(values.std(ddof=1)), 4),
            "min": round(float(values.min()), 4),
            "max": round(float(values.max()), 4),
            "ensemble": round(float(ensemble[metric]), 4) if ensemble else None,
        }
    return summary


def spread_by(
    runs: Sequence[dict[str, Any]], key: str, *, metrics: Sequence[str] = SCORES
) -> list[dict[str, Any]]:
    """One spread per value of the runs' `key` (a size, a round), in the order they first come."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run[key], []).append(run)
    return [{key: value, **spread(group, metrics=metrics)} for value, group in groups.items()]


def spread_table(rows: Sequence[tuple[str, dict[str, Any]]], *, metrics: Sequence[str] = SCORES) -> str:
    """A plain-text table of (what, summary) rows: per metric each seed's score, the mean, sd,
    min, max and (where there is one) the ensemble's score."""
    seeds = rows[0][1]["seeds"]
    header = ["what", "metric", *(f"seed {seed}" for seed in seeds), "mean", "sd", "min", "max", "ensemble"]
    lines = [header]
    for what, summary in rows:
        for metric in metrics:
            m = summary[metric]
            ensemble = "-" if m["ensemble"] is None else f"{m['ensemble']:.4f}"
            numbers = [*m["values"], m["mean"], m["sd"], m["min"], m["max"]]
            lines.append([what, metric, *(f"{number:.4f}" for number in numbers), ensemble])
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    return "\n".join([f"{len(seeds)} seeds ({SPREAD}):", *text])


def print_spread_table(
    rows: Sequence[tuple[str, dict[str, Any]]], *, metrics: Sequence[str] = SCORES
) -> None:
    """The table on stderr, beside the progress bars (stdout carries the JSON)."""
    if rows:
        print(spread_table(rows, metrics=metrics), file=sys.stderr)

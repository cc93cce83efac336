"""across-experiments: leave one experiment out, then adapt to it with a few scribbled fields.

aisegcell's file names carry their experiment (`<experiment>_p<field>_t<time>_z<plane>`): fields of
one experiment share a microscope, a day and a cell line, so a split that keeps an experiment's
fields apart from the training measures what a lab meets with its next plate. For each held-out
experiment E:
- transfer: a model trained on the other experiments' ground truth, scored on E's fields;
- for each k in --adapt smaller than E's field count: E's first k fields (by name) are labelled,
  E's other fields are scored, and the model of the others is warm-started on the k fields, as
  the app's warm start does:
  - scribbles: simulated scribbles of the k fields (--scribble-budget), what a user would paint;
  - dense: the k fields' ground truth, the most those fields can teach (the "inside" score);
  - recovered: (scribbles - transfer) / (dense - transfer) in pixel F1, the share of the gap to
    training inside the experiment that the scribbles close (None where dense gains nothing);
  - with --with-teacher, scribbles_and_teacher: the scribbles with the fluorescence teacher's
    pseudo-masks of the k fields filling their unknown pixels at the derived weight (the app's mix
    of human and derived labels), and recovered_with_teacher, its share of the gap.
"pooled" scores every held-out field's transfer prediction together (from the folds' counts). With
--seeds the whole protocol runs once per seed and "summary" gives the mean and spread of the pooled
scores.

Each seed's "adapted" gives, per k, the folds' mean pixel F1 of every adaptation and the share of the
gap closed by those means (one small gap cannot swing it, as it swings a mean of the folds' shares),
with how many folds close at least half of it; "adapted_summary" spreads that share over the seeds.

The whole protocol takes hours on a CPU, so it can be run in parts: --resume keeps the folds
already in --out (made with the same settings, on any machine: each fold records its own) and runs
only the (seed, experiment) folds asked for that it lacks; the result holds them all, and a seed's
"pooled" says whether every experiment is in it yet. Parts run side by side (one a core) write
their own files, and --include brings their folds into --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.bench.common import (
    describe,
    fit,
    machine,
    normalizer,
    peak_rss,
    save_progress,
    score,
    scores_of,
    train_config,
)
from training.bench.datasets import Item, load_folder
from training.bench.options import (
    Commands,
    add_common,
    add_seeds,
    add_teacher,
    number_list,
    teacher_params,
)
from training.bench.seeds import print_spread_table, seeds_of, spread
from training.bench.teacher import Target, pseudo_masks
from training.ml.config import TrainConfig
from training.ml.data import Sample, merge_targets
from training.ml.fluorescence import TeacherParams
from training.ml.inference import predict
from training.ml.loop import choose_device
from training.ml.scribbles import simulate_scribbles


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "across-experiments",
        help="leave one experiment out (file-name prefix), then adapt with 1/2/4 scribbled fields",
    )
    add_common(command)
    add_seeds(command)
    command.add_argument(
        "--experiments", help="held-out experiments to run, comma-separated (default: every one)"
    )
    command.add_argument(
        "--adapt",
        type=lambda text: number_list(text, int, "is not a list of field counts (for example 1,2,4)"),
        default=[1, 2, 4],
        help="numbers of the held-out experiment's fields labelled for adapting",
    )
    command.add_argument(
        "--adapt-steps", type=int, help="training steps of each adaptation (default: half of --steps)"
    )
    command.add_argument(
        "--resume",
        action="store_true",
        help="keep the folds already in --out (same settings) and run only the missing ones",
    )
    command.add_argument(
        "--include",
        type=lambda text: [Path(part) for part in text.split(",") if part],
        default=[],
        help="comma-separated results of other parts (same settings) whose folds --out keeps too",
    )
    command.add_argument(
        "--with-teacher",
        action="store_true",
        help="also adapt on the scribbles with the teacher's pseudo-masks (from --teacher-channel) "
        "filling their unknown pixels, as the app mixes human and derived labels",
    )
    add_teacher(command)
    command.set_defaults(command=across_experiments)


def experiment_of(name: str) -> str:
    """`170601SH11_p0023_t00001_z001` -> `170601SH11`; a name without `_` is its own experiment."""
    return name.split("_", 1)[0]


def by_experiment(items: list[Item]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in sorted(items, key=lambda item: item.name):
        groups[experiment_of(item.name)].append(item)
    return dict(sorted(groups.items()))


def across_experiments(args: argparse.Namespace) -> dict[str, Any]:
    groups = by_experiment(load_folder(args.data, input_channel=args.input_channel))
    if len(groups) < 2:
        raise SystemExit(f"{args.data} holds one experiment only ({', '.join(groups)}): nothing to leave out")
    params = teacher_params(args) if args.with_teacher else None
    first = next(iter(groups.values()))[0]
    config = train_config(args, in_channels=first.image.shape[0])
    adapt_steps = args.adapt_steps or max(1, config.steps // 2)
    settings: dict[str, Any] = {
        **describe(args, config.to_dict(), [], []),
        "experiments": {name: [item.name for item in items] for name, items in groups.items()},
        "adapt": args.adapt,
        "adapt_steps": adapt_steps,
        **(teacher_config(args, params) if params else {}),
    }
    done = resumed_folds(args, settings)
    seeds = seeds_of(args)
    asked = [(seed, experiment) for seed in seeds for experiment in chosen(args, groups)]
    stained = None  # every field's pseudo-mask by name, made once (the folds share them)
    if params is not None and any(pair not in done for pair in asked):
        fields = [item for items in groups.values() for item in items]
        masks = pseudo_masks(args.data, fields, channel=args.teacher_channel, params=params)
        stained = {item.name: mask for item, mask in zip(fields, masks, strict=True)}
    folds = dict(done)
    result: dict[str, Any] = {"config": settings, "runs": []}
    for seed, experiment in asked:
        if (seed, experiment) in folds:
            print(f"seed {seed}, {experiment}: kept from {args.out}", file=sys.stderr)
            continue
        seeded = config.replace(seed=seed)
        folds[seed, experiment] = {
            **one_fold(args, groups, experiment, seeded, adapt_steps, stained),
            "machine": machine(),
        }
        result["runs"] = runs_of(folds, groups)
        save_progress(args, result)
    result["runs"] = runs_of(folds, groups)
    complete = [run for run in result["runs"] if run["pooled"]["complete"]]
    if len(complete) > 1:
        result["summary"] = spread([run["pooled"] for run in complete])
        result["adapted_summary"] = adapted_spread(complete)
        print_spread_table([("pooled, every held-out field", result["summary"])])
    print_adapted(result["runs"])
    return result


# Settings that may differ between the parts of one resumed result.
PER_PART = ("date", "machine", "seed")


def resumed_folds(
    args: argparse.Namespace, settings: dict[str, Any]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The folds already measured by (seed, experiment): with --resume those in --out, then those
    of the --include files (a fold in two files is taken from the first). Refuses a file made with
    other settings before reading any fold, and leaves out folds written before folds kept their
    counts."""
    if args.resume and (not args.out or not args.out.exists()):
        raise SystemExit("--resume needs --out naming the result to continue")
    missing = [str(path) for path in args.include if not path.exists()]
    if missing:
        raise SystemExit(f"--include: {', '.join(missing)} does not exist")
    sources = [("--resume", args.out)] if args.resume else []
    sources += [("--include", path) for path in args.include]
    saved = [(option, path, json.loads(path.read_text())) for option, path in sources]
    ours = {key: value for key, value in settings.items() if key not in PER_PART}
    for option, path, result in saved:
        theirs = {key: value for key, value in result.get("config", {}).items() if key not in PER_PART}
        differ = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
        if differ:
            raise SystemExit(f"{option}: {path} was made with other settings ({', '.join(differ)})")
    folds: dict[tuple[int, str], dict[str, Any]] = {}
    for _, _, result in saved:
        for run in result.get("runs", []):
            for fold in run["folds"]:
                if "counts" in fold["transfer"]:
                    folds.setdefault((run["seed"], fold["experiment"]), fold)
    return folds


def runs_of(
    folds: dict[tuple[int, str], dict[str, Any]], groups: dict[str, list[Item]]
) -> list[dict[str, Any]]:
    """The folds by seed, in the experiments' order, each seed's transfer pooled over its folds."""
    runs = []
    for seed in sorted({seed for seed, _ in folds}):
        mine = [folds[seed, name] for name in groups if (seed, name) in folds]
        counts = {
            key: sum(fold["transfer"]["counts"][key] for fold in mine)
            for key in mine[0]["transfer"]["counts"]
        }
        pooled = {
            **scores_of(counts),
            "train_images": sum(len(fold["fields"]) for fold in mine),
            "seed": seed,
            "complete": len(mine) == len(groups),
        }
        runs.append({"seed": seed, "folds": mine, "pooled": pooled, "adapted": adapted(mine)})
    return runs


ADAPTATIONS = ("transfer", "scribbles", "scribbles_and_teacher", "dense")
SHARES = (("scribbles", "recovered"), ("scribbles_and_teacher", "recovered_with_teacher"))
COLUMNS = (*ADAPTATIONS, *(share for _, share in SHARES))  # a seed's summary per k, as printed


def adapted(folds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per k, over the folds that adapted with k fields: each adaptation's mean pixel F1, the share
    of the gap the means close (`recovered`, with the teacher `recovered_with_teacher`), and how
    many folds close at least half of it on their own (`..._folds_at_half`)."""
    by_k: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for fold in folds:
        for entry in fold["adapt"]:
            by_k[len(entry["labelled"])].append((fold["experiment"], entry))
    rows = []
    for k, pairs in sorted(by_k.items()):
        entries = [entry for _, entry in pairs]
        row: dict[str, Any] = {"k": k, "folds": [experiment for experiment, _ in pairs]}
        for labels in ADAPTATIONS:
            if all(labels in entry for entry in entries):
                row[labels] = round(float(np.mean([entry[labels]["pixel_f1"] for entry in entries])), 4)
        for labels, share in SHARES:
            if labels in row:
                row[share] = recovered(
                    {"pixel_f1": row["transfer"]}, {"pixel_f1": row[labels]}, {"pixel_f1": row["dense"]}
                )
                row[f"{share}_folds_at_half"] = sum((entry.get(share) or 0.0) >= 0.5 for entry in entries)
        rows.append(row)
    return rows


def adapted_spread(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per k, over the seeds: the mean pixel F1 of each adaptation and the share of the gap closed,
    each seed's value, mean and spread (the shares only where every seed has one)."""
    rows = []
    for k in sorted({row["k"] for run in runs for row in run["adapted"]}):
        per_seed = [{"seed": run["seed"], **row} for run in runs for row in run["adapted"] if row["k"] == k]
        metrics = [key for key in COLUMNS if all(row.get(key) is not None for row in per_seed)]
        if len(per_seed) > 1:
            rows.append({"k": k, **spread(per_seed, metrics=metrics, keep=())})
    return rows


def print_adapted(runs: list[dict[str, Any]]) -> None:
    """Each seed's adaptations per k as a table on stderr."""
    lines = ["seed  k  folds  " + "  ".join(COLUMNS) + "  folds >= 0.5 (scribbles / with the teacher)"]
    for run in runs:
        for row in run["adapted"]:
            numbers = ["-" if row.get(key) is None else f"{row[key]:.3f}" for key in COLUMNS]
            at_half = " / ".join(str(row[f"{share}_folds_at_half"]) for _, share in SHARES if share in row)
            cells = [str(run["seed"]), str(row["k"]), str(len(row["folds"])), *numbers, at_half]
            lines.append("  ".join(cells))
    if len(lines) > 1:
        print("\n".join(lines), file=sys.stderr)


def teacher_config(args: argparse.Namespace, params: TeacherParams) -> dict[str, Any]:
    return {"teacher_channel": args.teacher_channel, "teacher_params": params.to_dict()}


def chosen(args: argparse.Namespace, groups: dict[str, list[Item]]) -> list[str]:
    if not args.experiments:
        return list(groups)
    wanted = [name.strip() for name in args.experiments.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in groups]
    if unknown:
        raise SystemExit(f"--experiments: {', '.join(unknown)} not in {args.data} ({', '.join(groups)})")
    return wanted


def one_fold(
    args: argparse.Namespace,
    groups: dict[str, list[Item]],
    experiment: str,
    config: TrainConfig,
    adapt_steps: int,
    stained: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    """Train on every other experiment, score on this one, then adapt with k of its fields (and,
    given the teacher's pseudo-masks by field name, with them beside the scribbles)."""
    fields = groups[experiment]
    train = [item for name, items in groups.items() if name != experiment for item in items]
    prepare = normalizer(args, train)  # the ranges of the others' fields, kept while adapting
    device = choose_device()
    with peak_rss() as memory:
        samples = [Sample(prepare(item.image), item.classes) for item in train]
        base, seconds = fit(config, samples, device, description=f"{experiment}: others")
    cost = {"train_seconds": seconds, "peak_rss_mb": round(memory["mb"])}
    transfer = [classes_of(base, prepare(item.image), device) for item in fields]
    fold: dict[str, Any] = {
        "experiment": experiment,
        "fields": [item.name for item in fields],
        "train_images": len(train),
        "transfer": {**score(transfer, fields, with_counts=True), **cost},
        "adapt": [],
    }
    state = {name: tensor.detach().clone() for name, tensor in base.state_dict().items()}
    tuned = config.replace(
        steps=adapt_steps, steps_per_epoch=max(1, adapt_steps // 5), warmup_steps=min(50, adapt_steps // 10)
    )
    for k in [k for k in args.adapt if 0 < k < len(fields)]:
        labelled, scored = fields[:k], fields[k:]
        before = score(transfer[k:], scored)
        entry: dict[str, Any] = {"labelled": [i.name for i in labelled], "scored": [i.name for i in scored]}
        entry["transfer"] = brief(before)
        scribbles = [
            simulate_scribbles(i.classes, budget=args.scribble_budget, seed=args.seed, instances=i.instances)
            for i in labelled
        ]
        targets: dict[str, list[Target]] = {
            "scribbles": [(scribble, None) for scribble in scribbles],
            "dense": [(i.classes, None) for i in labelled],
        }
        if stained is not None:
            targets["scribbles_and_teacher"] = [
                merge_targets(scribble, mask, derived_weight=config.derived_weight)
                for scribble, mask in zip(scribbles, (stained[i.name] for i in labelled), strict=True)
            ]
        for labels, maps in targets.items():
            samples = [
                Sample(prepare(i.image), target, weight)
                for i, (target, weight) in zip(labelled, maps, strict=True)
            ]
            model, _ = fit(
                tuned, samples, device, description=f"{experiment}: {k} {labels}", initial_weights=state
            )
            entry[labels] = brief(
                score([classes_of(model, prepare(i.image), device) for i in scored], scored)
            )
        entry["recovered"] = recovered(entry["transfer"], entry["scribbles"], entry["dense"])
        if stained is not None:
            mixed = entry["scribbles_and_teacher"]
            entry["recovered_with_teacher"] = recovered(entry["transfer"], mixed, entry["dense"])
        fold["adapt"].append(entry)
    print(f"{experiment}: transfer pixel F1 {fold['transfer']['pixel_f1']:.3f}", file=sys.stderr)
    return fold


def classes_of(model: torch.nn.Module, image: np.ndarray, device: torch.device) -> np.ndarray:
    return predict(model, image, device=device, tile=512).classes


def brief(scores: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in scores.items() if key != "per_image"}


def recovered(transfer: dict[str, Any], scribbles: dict[str, Any], dense: dict[str, Any]) -> float | None:
    gap = dense["pixel_f1"] - transfer["pixel_f1"]
    if gap <= 1e-6:
        return None
    return round((scribbles["pixel_f1"] - transfer["pixel_f1"]) / gap, 3)

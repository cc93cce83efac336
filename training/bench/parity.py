"""python -m training.bench app-parity: the app, driven end to end, against label-efficiency.

Starts what `make run` starts, with the helpers live-latency uses (training/bench/stack.py): a Redis
(REDIS_URL's, else an embedded one), daphne and one Dramatiq worker on the gpu and default queues,
on a fresh SQLite database in a temporary folder. `manage.py import_dataset` makes a project of
the data folder (ground truth as dense masks); through the REST API (token authentication, as
scripts use it) the bench's test images go to the validation split and its training pool to the
training split, and for each size k and seed a run is started with the bench's TrainConfig, field
for field, and `train_image_limit` k, so it trains on the same first k images by name. The run's
model version is read back (its validation pixel F1, the app's own number) and so are the app's
stored predictions of the test images (the prediction job every new version makes): their class
maps are scored with the bench's `score` (pixel F1 pooled over the test pixels, object F1 at IoU
0.5 pooled over the test images), their instance maps with the same object matching. The bench's
run of the same k and seed (efficiency_run, in this process) is scored on the same test images.

With `--labels teacher` both sides learn from the fluorescence teacher's pseudo-masks instead of
the ground truth: the app makes them with its teacher job (the teacher page's "Apply", through
the API) on the training pool, and its runs learn from "derived" labels only; the bench makes them
with the same pipeline and parameters from the teacher channel's files, weighted as the app weighs
derived labels. The JSON says how many of the training pool's pixels the two sets of pseudo-masks
label alike, and how good they are against the ground truth neither side learns from.

Reported per (k, seed): both sides' scores and the images each trained and scored on; per k: the
mean and standard deviation over the seeds of each side, the difference (app - bench) and a
verdict: "identical" when every seed scored the same on both sides, else "within spread" when the
difference of the means is no larger than the larger of the two sides' seed-to-seed standard
deviations.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django
import numpy as np
import tifffile
import torch
from django.core.management import call_command

from training.bench import stack
from training.bench.common import (
    Outcome,
    describe,
    efficiency_run,
    load_split,
    save_progress,
    score,
    sizes,
    train_config,
)
from training.bench.datasets import Item
from training.bench.options import Commands, add_common, add_seeds, add_teacher, teacher_params
from training.bench.seeds import seeds_of
from training.bench.teacher import (
    TEACHER_LABELS,
    Target,
    pseudo_mask_scores,
    pseudo_masks,
    train_and_score,
)
from training.ml.config import TrainConfig
from training.ml.data import merge_targets
from training.ml.fluorescence import TeacherParams
from training.ml.loop import choose_device
from training.ml.metrics import object_scores

PROJECT = "App parity"
TEACHER_SOURCE = "fluorescence-teacher"  # the derived layers' key (training/features/teacher.py SOURCE)
METRICS = ("pixel_f1", "object_f1")
# What the bench does that the app does differently by design, said beside every result.
KNOWN_DIFFERENCES = [
    "model selection: the app's model version holds the weights of its best epoch by validation "
    "pixel F1 (on the test images, every steps_per_epoch steps); the bench keeps the last. "
    "'last_epoch_pixel_f1' is the app's score of its last epoch",
    "with --recompute-batch-norm the app measures batch-norm statistics at every epoch's end (it "
    "validates there); the bench, which validates nothing, only when training ends",
    "validation during training: the app predicts the validation images at every epoch's end with "
    "tiles of min(512, max(64, 2 x patch_size)); its stored predictions, scored here, use "
    "PREDICTION_TILE_SIZE (512 by default) as the bench does",
]


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "app-parity", help="the app end to end (import, split, runs, predictions) against label-efficiency"
    )
    add_common(command, labels=("dense", "scribbles", "teacher"))
    add_seeds(command)
    add_teacher(command)
    command.add_argument(
        "--run-timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for one app run and its predictions",
    )
    # The app's stored predictions are made without test-time augmentation unless a run asks.
    command.set_defaults(command=app_parity, test_time_augmentation=False)


def app_parity(args: argparse.Namespace) -> dict[str, Any]:
    if args.labels == "scribbles":
        raise SystemExit(
            "app-parity compares dense labels or the teacher's pseudo-masks (--labels teacher): the "
            "app's scribbles are strokes drawn in the browser, not the bench's simulated scribble maps"
        )
    params = teacher_params(args) if args.labels == "teacher" else None
    if args.normalization != "dataset":
        raise SystemExit(
            "app-parity needs --normalization dataset: the app fixes channel ranges on the training images"
        )
    train, test = load_split(args)
    config = train_config(args, in_channels=train[0].image.shape[0])
    teacher = None
    if params is not None:
        masks = pseudo_masks(args.data, train, channel=args.teacher_channel, params=params)
        teacher = Teacher(params, masks)
    folder = Path(tempfile.mkdtemp(prefix="lesslabel-parity-bench-"))
    env = stack.environment(folder, rate=4)
    os.environ.update(env)
    django.setup()
    call_command("migrate", verbosity=0)
    redis = stack.start_redis(folder, env)
    try:
        app = stack.start_services(folder, env, queues=["gpu", "default"])
        try:
            api = _import(args, port=int(env["BENCH_PORT"]))
            stack.wait_for_http(api.port)
            return _compare(args, api, config, train, test, teacher)
        finally:
            stack.stop(app)
    finally:
        stack.stop(redis)


@dataclass(frozen=True)
class Teacher:
    """The teacher's parameters and the bench's pseudo-masks of the training pool (0/1 maps)."""

    params: TeacherParams
    masks: list[np.ndarray]


def _compare(
    args: argparse.Namespace,
    api: Api,
    config: TrainConfig,
    train: list[Item],
    test: list[Item],
    teacher: Teacher | None,
) -> dict[str, Any]:
    """Each (k, seed) on both sides, then each k's summary; the JSON so far after every pair."""
    ids = _split(api, train, test)
    about_teacher: dict[str, Any] = {}
    if teacher is not None:
        _apply_teacher(api, args, teacher.params, [ids[item.name] for item in train])
        report = {"channel": args.teacher_channel, **_teacher_report(api, teacher, train, ids)}
        about_teacher = {"teacher": report}
        print(json.dumps(about_teacher), file=sys.stderr)
    seeds = seeds_of(args)
    device = choose_device()
    pairs: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "pairs": pairs,
        "summary": [],
        "config": {
            **describe(args, config.to_dict(), train, test),
            "mapping": app_options(config, args),
            "known_differences": KNOWN_DIFFERENCES,
            **about_teacher,
        },
    }
    for k in sizes(args, len(train)):
        for seed in seeds:
            seeded = config.replace(seed=seed)
            app = app_run(api, app_options(seeded, args), k=k, test=test, ids=ids, timeout=args.run_timeout)
            bench = _bench_run(args, seeded, train[:k], test, device, teacher)
            pairs.append(
                {
                    "train_images": k,
                    "seed": seed,
                    "app": app,
                    "bench": {**bench.run, "trained_on": [item.name for item in train[:k]]},
                    "config_differences": _differences(seeded, app.pop("train_config")),
                }
            )
            save_progress(args, result)
        result["summary"].append(summary([pair for pair in pairs if pair["train_images"] == k]))
    return result


def _bench_run(
    args: argparse.Namespace,
    config: TrainConfig,
    train: list[Item],
    test: list[Item],
    device: torch.device,
    teacher: Teacher | None,
) -> Outcome:
    """The bench's side of a pair: label-efficiency's run, or on the teacher's pseudo-masks of
    these images at the derived weight (the app's target for derived labels alone)."""
    name = f"bench, seed {config.seed}, "
    if teacher is None:
        return efficiency_run(args, config, train, test, device, name=name)
    targets: list[Target] = [
        merge_targets(None, mask, derived_weight=config.derived_weight)
        for mask in teacher.masks[: len(train)]
    ]
    return train_and_score(
        args, train, targets, test, seed=config.seed, labels=TEACHER_LABELS, description=f"{name}{len(train)}"
    )


def app_options(config: TrainConfig, args: argparse.Namespace) -> dict[str, Any]:
    """The run options that ask the app for the bench's training: every TrainConfig field but
    those the server sets from the project (input channels, classes), dense labels or the
    teacher's derived ones only, no previews (they take time and change nothing the run learns)."""
    from training.runs.spec import SERVER_SET  # needs django.setup() first

    options: dict[str, Any] = {key: value for key, value in config.to_dict().items() if key not in SERVER_SET}
    sources = ["derived"] if args.labels == "teacher" else ["dense"]
    options.update(label_sources=sources, preview_images=0, test_time_augmentation=False)
    if args.labels == "teacher":
        options["derived_sources"] = [TEACHER_SOURCE]
    if not (args.data / "images").is_dir():  # brightfield/ + fluorescence/: the bench reads one channel
        options["channels"] = [args.input_channel or "brightfield"]
    return options


def _differences(bench: TrainConfig, app: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields whose values the app's run stored differently from the bench's."""
    mine = bench.to_dict()
    return {
        key: {"bench": mine.get(key), "app": app.get(key)}
        for key in sorted(set(mine) | set(app))
        if mine.get(key) != app.get(key)
    }


# The app's side ------------------------------------------------------------------------------


class Api:
    """The app's REST API on the loopback, signed in with a token, as scripts call it."""

    def __init__(self, port: int, token: str, project: int) -> None:
        self.port, self.token, self.project = port, token, project

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.read(path, body)
        return json.loads(answer)

    def read(self, path: str, body: dict[str, Any] | None = None) -> bytes:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"},
            method="GET" if body is None else "POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{request.method} /api/{path}: {error.code} {error.read()[:500]!r}") from None

    def listing(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        separator = "&" if "?" in path else "?"
        while True:
            page = self.call(f"{path}{separator}limit=1000&offset={len(items)}")
            items += page["results"]
            if not page.get("next"):
                return items


def _import(args: argparse.Namespace, *, port: int) -> Api:
    """The data folder as a project of a new user "bench", by `manage.py import_dataset`."""
    from django.contrib.auth import get_user_model  # needs django.setup() first
    from rest_framework.authtoken.models import Token  # needs django.setup() first

    owner = get_user_model().objects.create_user(username="bench", password=None)
    # Its summary line goes to stderr: stdout is the command's JSON.
    call_command(
        "import_dataset", str(args.data), project=PROJECT, owner="bench", verbosity=0, stdout=sys.stderr
    )
    project = owner.memberships.get().project
    return Api(port, Token.objects.create(user=owner).key, project.pk)


def _split(api: Api, train: list[Item], test: list[Item]) -> dict[str, int]:
    """The bench's test images to the validation split, its training pool to training; the
    project's image ids by name."""
    ids = {image["name"]: image["id"] for image in api.listing(f"projects/{api.project}/images/")}
    missing = sorted({item.name for item in train + test} - set(ids))
    if missing:
        raise SystemExit(
            f"import_dataset made no image of {missing[:5]}: "
            "the app and the bench read the folder differently"
        )
    for split, items in (("validation", test), ("train", train)):
        api.call(
            f"projects/{api.project}/images/split/", {"images": [ids[i.name] for i in items], "split": split}
        )
    return ids


def _apply_teacher(api: Api, args: argparse.Namespace, params: TeacherParams, image_ids: list[int]) -> None:
    """The teacher's job on these images, as the teacher page's "Apply" starts it; it must make
    a layer for each."""
    body = {"channel": args.teacher_channel, "params": params.to_dict(), "images": image_ids}
    job = api.call(f"projects/{api.project}/fluorescence-teacher/apply/", body)["job"]
    deadline = time.monotonic() + args.run_timeout
    while True:
        last = api.call(f"projects/{api.project}/fluorescence-teacher/")["job"]
        if last["job"] == job and last["state"] == "succeeded":
            if sorted(last["summary"]["made"]) != sorted(image_ids):
                raise SystemExit(f"the app's teacher made layers for some images only: {last['summary']}")
            return
        if last["job"] == job and last["state"] in ("failed", "cancelled"):
            raise SystemExit(f"the app's teacher job {last['state']}: {last['error']}")
        if time.monotonic() > deadline:
            raise SystemExit("the app's teacher job did not finish in time; see services.log")
        time.sleep(1.0)


def _teacher_report(api: Api, teacher: Teacher, train: list[Item], ids: dict[str, int]) -> dict[str, Any]:
    """The two sides' pseudo-masks of the training pool: the share of pixels they label alike,
    and each against the ground truth (which neither side learns from)."""
    nucleus = _nucleus_index(api)
    app_masks = []
    for item in train:
        (layer,) = (a for a in api.call(f"images/{ids[item.name]}/annotations/") if a["kind"] == "derived")
        labels = _label_image(api.read(layer["mask_url"].removeprefix("/api/")))
        app_masks.append((labels == nucleus).astype(np.int64))
    alike = sum(int((a == b).sum()) for a, b in zip(app_masks, teacher.masks, strict=True))
    return {
        "params": teacher.params.to_dict(),
        "pixels_alike": round(alike / sum(mask.size for mask in teacher.masks), 6),
        "app_pseudo_masks": pseudo_mask_scores(app_masks, train),
        "bench_pseudo_masks": pseudo_mask_scores(teacher.masks, train),
    }


def _nucleus_index(api: Api) -> int:
    """The class index the project's nuclei have (import_dataset's class "nucleus")."""
    return int(
        next(c["index"] for c in api.call(f"projects/{api.project}/classes/") if c["name"] == "nucleus")
    )


def app_run(
    api: Api, options: dict[str, Any], *, k: int, test: list[Item], ids: dict[str, int], timeout: float
) -> dict[str, Any]:
    """One run on the app's first k training images, and its model version's predictions of the
    test images, scored as the bench scores."""
    started = time.perf_counter()
    run = api.call(f"projects/{api.project}/runs/", {"config": {**options, "train_image_limit": k}})
    print(f"app run {run['id']}: {k} image(s), seed {options['seed']}", file=sys.stderr)
    run = _wait_for_run(api, run["id"], deadline=time.monotonic() + timeout)
    version = next(
        v for v in api.listing(f"projects/{api.project}/model-versions/") if v["id"] == run["model_version"]
    )
    names = {image_id: name for name, image_id in ids.items()}
    classes, instances = _predictions(
        api, version["id"], [ids[item.name] for item in test], deadline=time.monotonic() + timeout
    )
    object_index = _nucleus_index(api)
    scores = score([(c == object_index).astype(np.int64) for c in classes], test)
    validation = version["metrics"]["validation"]
    epochs = [
        m["values"]["metrics"] for m in api.call(f"runs/{run['id']}/metrics/") if m["kind"] == "validation"
    ]
    return {
        **scores,
        "object_f1_of_app_instances": pooled_object_f1(instances, test),
        "validation_pixel_f1": validation.get("pixel_f1"),
        "last_epoch_pixel_f1": epochs[-1].get("pixel_f1") if epochs else None,
        "epochs": len(epochs),
        "trained_on": [names[i] for i in version["metrics"]["train_images"]],
        "validated_on": [names[i] for i in version["metrics"]["validation_images"]],
        "run": run["id"],
        "model_version": version["id"],
        "seconds": round(time.perf_counter() - started, 1),
        "train_config": run["config"]["train"],
    }


def _wait_for_run(api: Api, run_id: int, *, deadline: float) -> dict[str, Any]:
    while True:
        run: dict[str, Any] = api.call(f"runs/{run_id}/")
        if run["state"] == "succeeded":
            return run
        if run["state"] in ("failed", "cancelled"):
            raise SystemExit(f"app run {run_id} {run['state']}: {run['error']}")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"app run {run_id} did not finish in time (state {run['state']}); see services.log"
            )
        time.sleep(1.0)


def _predictions(
    api: Api, version: int, image_ids: list[int], *, deadline: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The class maps and instance maps the version's prediction job stored for these images."""
    while True:
        stored = {
            p["image"]: p for p in api.listing(f"projects/{api.project}/predictions/?model_version={version}")
        }
        if all(image in stored for image in image_ids):
            break
        if time.monotonic() > deadline:
            raise SystemExit(
                f"model version {version} did not predict the test images in time; see services.log"
            )
        time.sleep(1.0)
    classes = [_label_image(api.read(stored[image]["mask_url"].removeprefix("/api/"))) for image in image_ids]
    instances = [
        _label_image(api.read(stored[image]["instances_url"].removeprefix("/api/"))) for image in image_ids
    ]
    return classes, instances


def _label_image(data: bytes) -> np.ndarray:
    """A label map the API sends: a PNG, or a TIFF (instance maps past 65535 objects)."""
    from labeling.labelmaps import decode_png_map  # needs django.setup() first

    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return np.asarray(tifffile.imread(io.BytesIO(data)))
    return decode_png_map(data, what="the app's prediction")


def pooled_object_f1(instances: list[np.ndarray], test: list[Item]) -> float:
    """Object F1 at IoU 0.5 of instance maps against the test images' objects, pooled as `score` pools."""
    matched = predicted = true = 0
    for found, item in zip(instances, test, strict=True):
        objects = object_scores(found, item.instances)
        matched, predicted, true = (
            matched + int(objects["matched"]),
            predicted + int(objects["predicted"]),
            true + int(objects["true"]),
        )
    return 2 * matched / (predicted + true) if predicted + true else 1.0


# Summary -------------------------------------------------------------------------------------


def summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: each side's mean and standard deviation over the seeds, their difference and
    whether it is within the seeds' spread (None with one seed: there is no spread to judge by)."""
    out: dict[str, Any] = {
        "train_images": pairs[0]["train_images"],
        "seeds": [pair["seed"] for pair in pairs],
    }
    verdicts = []
    for metric in METRICS:
        sides = {side: np.array([pair[side][metric] for pair in pairs]) for side in ("app", "bench")}
        spreads = {side: float(v.std(ddof=1)) if len(v) > 1 else None for side, v in sides.items()}
        difference = float(sides["app"].mean() - sides["bench"].mean())
        largest = max((s for s in spreads.values() if s is not None), default=None)
        within = None if largest is None else abs(difference) <= largest
        verdicts.append(within)
        out[metric] = {
            **{
                side: {"mean": round(float(v.mean()), 4), "sd": _rounded(spreads[side])}
                for side, v in sides.items()
            },
            "difference": round(difference, 4),
            "within_spread": within,
        }
    if all(pair["app"][metric] == pair["bench"][metric] for pair in pairs for metric in METRICS):
        out["verdict"] = "identical: the same scores seed for seed"
    elif None in verdicts:
        out["verdict"] = "one seed: no spread to judge by (pass --seeds)"
    else:
        out["verdict"] = "within spread" if all(verdicts) else "beyond spread"
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

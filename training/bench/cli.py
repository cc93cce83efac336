"""python -m training.bench: measure the learning core on real data (not a test).

  label-efficiency  train on the first k images for each k, score on the test images
  peer              the same with the random-forest "trainable segmentation" peer
  overhead          our training loop against a bare segmentation-models-pytorch loop
  live-latency      WebSocket event latency from a real worker, and the cost of live progress
  prediction-memory peak memory of tiled prediction on one large image (4096x4096 by default)
  predict-throughput  a prediction job's throughput (read, predict, count, measure, store) vs bare smp
  weak-tags         a U-Net from tile tags only (Score-CAM pseudo-masks) against dense labels
  cam-thresholds    rules that turn Score-CAM maps into pseudo-masks, scored on the training images
  fluorescence-teacher  a brightfield model on fluorescence pseudo-masks against ground truth
  pretraining       the label-efficiency curve with and without self-supervised pretraining
  preview-latency   time from a stroke saved through the API to its instant preview on the socket
  load              the labelling API under N annotators at once (locust), while a model trains
  self-training     retrain on the test images labelled by the previous model's confident calls
  export-memory     the web process's peak memory while it streams a project's export zip
  across-experiments  leave one experiment out, then adapt to it with a few scribbled fields
  gpu-check         mixed-precision training and prediction on CUDA, compared with the CPU (skips
                    without a GPU)
  app-parity        the app end to end (import, split, runs, predictions) beside label-efficiency

Each prints progress bars and writes JSON with --out. The commands that train several models
write what they have after each one, marked "incomplete", so a run stopped part way keeps it.
The commands that train take --seeds 0,1,2: each run, and per score the mean and spread.
Results and commands: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from training.bench import (
    camthresholds,
    efficiency,
    experiments,
    exportmem,
    gpucheck,
    live,
    load,
    memory,
    overhead,
    parity,
    peer,
    predict,
    pretraining,
    preview,
    selftraining,
    teacher,
    weaktags,
)
from training.bench.common import write_json

# In the order `--help` lists them; each module adds its own sub-command and options.
COMMANDS = (
    efficiency,
    peer,
    overhead,
    live,
    memory,
    predict,
    pretraining,
    preview,
    load,
    selftraining,
    teacher,
    weaktags,
    camthresholds,
    exportmem,
    experiments,
    gpucheck,
    parity,
)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = args.command(args)
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m training.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(required=True)
    for module in COMMANDS:
        module.add_command(commands)
    return top

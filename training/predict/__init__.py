"""From a trained model to results: prediction jobs, object counts and measurements, exports,
and accepting a prediction as labels.

- pipeline.py: one image's class map, uncertainty, objects and measurements, and their files
  (no Django: the jobs, the `predict` command and the benchmark share it)
- job.py: prediction jobs: asked for through the API or after training, run by the
  `predict_images` actor, cancellable, idempotent
- exports.py: measurements as JSON and CSV, per prediction, per project, per human dense mask
- accept.py: a prediction becomes a revision of the image's dense mask
"""

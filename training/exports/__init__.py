"""Results out: a project's labels or a model version's predictions as one streamed zip of the
formats Fiji, napari, QuPath and COCO tools read (spec.py says which options exist, stream.py
writes the zip)."""

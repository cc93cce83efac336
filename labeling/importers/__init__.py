"""Existing annotations in: label images, COCO JSON and QuPath GeoJSON read into per-image labels
(pure, no Django); services/annotation_import.py attaches them to images by name."""

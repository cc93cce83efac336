"""Project backup and restore: a project's images (the original files, byte for byte), classes,
members, and every revision of every label layer with its author, time and provenance, with the
review history, as one zip (dump.py); and that zip made into a new project on another
installation, users matched by username (restore.py).

Not in a backup: model versions, runs and predictions (a model moves as a model package), comments
and the audit list. Display renditions are made again from the originals.
"""

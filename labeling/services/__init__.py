"""Operations on projects, members, classes, images and annotations: labeling's writes.

Each function is one operation, typed and keyword-only; it validates, changes the database in
one transaction, and raises InvalidInput (400) or Conflict (409) without storing anything.
Access checks happen before these are called (labeling/access.py). One module per thing served;
this package's names are the ones callers use (`services.annotation_save(...)`).
"""

from labeling.services.annotations import (
    SNAPSHOT_EVERY,
    LayerContent,
    annotation_delete,
    annotation_restore,
    annotation_save,
    dense_mask_replace,
)
from labeling.services.classes import label_class_create, label_class_delete, label_class_update
from labeling.services.derived import derived_layer_save
from labeling.services.images import (
    Upload,
    check_file_name,
    image_archive,
    image_ingest,
    image_render_displays,
    image_update,
)
from labeling.services.projects import (
    membership_remove,
    membership_set,
    project_archive,
    project_create,
    project_update,
)

__all__ = [
    "SNAPSHOT_EVERY",
    "LayerContent",
    "Upload",
    "annotation_delete",
    "annotation_restore",
    "annotation_save",
    "check_file_name",
    "dense_mask_replace",
    "derived_layer_save",
    "image_archive",
    "image_ingest",
    "image_render_displays",
    "image_update",
    "label_class_create",
    "label_class_delete",
    "label_class_update",
    "membership_remove",
    "membership_set",
    "project_archive",
    "project_create",
    "project_update",
]

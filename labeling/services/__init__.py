"""Operations on projects, members and invitations, classes, images, annotations and the team
workflow (assignments, review, comments, the audit list): labeling's writes.

Each function is one operation, typed and keyword-only; it validates, changes the database in
one transaction, and raises InvalidInput (400) or Conflict (409) without storing anything.
Access checks happen before these are called (labeling/access.py). One module per thing served;
this package's names are the ones callers use (`services.annotation_save(...)`).
"""

from labeling.services.annotation_import import ImportOptions, ImportResult, annotations_import
from labeling.services.annotations import (
    SNAPSHOT_EVERY,
    LayerContent,
    annotation_delete,
    annotation_restore,
    annotation_save,
    dense_mask_replace,
)
from labeling.services.assignments import images_assign, images_share, unassign_member
from labeling.services.audit import audit_record
from labeling.services.classes import label_class_create, label_class_delete, label_class_update
from labeling.services.comments import comment_add, comment_resolve
from labeling.services.derived import derived_layer_save
from labeling.services.images import (
    Upload,
    check_file_name,
    image_archive,
    image_ingest,
    image_name_for,
    image_render_displays,
    image_update,
)
from labeling.services.invitations import (
    invitation_accept,
    invitation_create,
    invitation_decline,
    invitation_withdraw,
)
from labeling.services.projects import (
    membership_remove,
    membership_set,
    project_archive,
    project_create,
    project_update,
)
from labeling.services.review import image_move
from labeling.services.splits import HoldOut, image_split_hold_out, image_split_set

__all__ = [
    "SNAPSHOT_EVERY",
    "HoldOut",
    "ImportOptions",
    "ImportResult",
    "LayerContent",
    "Upload",
    "annotation_delete",
    "annotation_restore",
    "annotation_save",
    "annotations_import",
    "audit_record",
    "check_file_name",
    "comment_add",
    "comment_resolve",
    "dense_mask_replace",
    "derived_layer_save",
    "image_archive",
    "image_ingest",
    "image_move",
    "image_name_for",
    "image_render_displays",
    "image_split_hold_out",
    "image_split_set",
    "image_update",
    "images_assign",
    "images_share",
    "invitation_accept",
    "invitation_create",
    "invitation_decline",
    "invitation_withdraw",
    "label_class_create",
    "label_class_delete",
    "label_class_update",
    "membership_remove",
    "membership_set",
    "project_archive",
    "project_create",
    "project_update",
    "unassign_member",
]

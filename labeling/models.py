"""Projects, members, images, label classes and annotations.

Label maps everywhere use one convention: 0 means "unknown / not labelled" and a value v > 0 is
the LabelClass with index v. Background is an ordinary class (index 1 in a new project), so a
scribble map can say "this is background" and "nobody said anything here" apart.

Annotations are never changed in place. An Annotation is the head of one label layer (one tag,
the scribble layer, the dense mask, ... of one image) and every save appends an
AnnotationRevision; the head's `version` moves forward only through `annotation_save`, which
refuses a write based on a stale version. Deleting is a revision too, so every label can be
restored and attributed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


# Each role can do everything the roles after it can.
ROLE_RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.MANAGER: 2, Role.OWNER: 3}


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def role_of(self, user: Any) -> Role | None:
        membership = self.memberships.filter(user=user).first()
        return Role(membership.role) if membership else None


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["project_id", "user_id"]

    def allows(self, needed: Role) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[needed]


class Invitation(models.Model):
    """An owner's offer of a role in a project to whoever has the user name `username`; they
    become a member only by accepting it (labeling/services/invitations.py).

    It names a user name, not a user, and is made whether or not such a user exists, so neither
    the answer nor the project's list of pending invitations tells the owner which names exist.
    Past `expires_at` it is as good as gone: nobody sees or accepts it, and the next invitation
    of the project deletes it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "username"], name="one_invitation_per_user_name")
        ]
        indexes = [models.Index(fields=["username", "expires_at"])]
        ordering = ["created_at", "id"]


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, help_text="#rrggbb")
    index = models.PositiveSmallIntegerField(help_text="value of this class in label maps (>= 1)")
    countable = models.BooleanField(
        default=False, help_text="objects of this class are counted and scored as instances"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "index"], name="unique_class_index"),
            models.UniqueConstraint(fields=["project", "name"], name="unique_class_name"),
            models.CheckConstraint(condition=Q(index__gte=1), name="class_index_positive"),
        ]
        ordering = ["project_id", "index"]

    def __str__(self) -> str:
        return f"{self.name} ({self.index})"


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    UNASSIGNED = "unassigned", "Unassigned"
    # Images a model is applied to and never learns from: no run, study or guided labelling uses
    # them (next week's plate, uploaded only to be predicted, counted and measured).
    INFERENCE = "inference", "Inference only"


# Splits no run trains on: validation images score a run, inference-only ones are only predicted.
NOT_TRAINED_ON = (Split.VALIDATION, Split.INFERENCE)


class Stack(models.Model):
    """The z-planes and time points of one uploaded file. Each (z, t) plane is an Image of its
    own (labelled, trained on and predicted like any 2-D image); the stack groups them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stacks")
    name = models.CharField(max_length=255)
    size_z = models.PositiveIntegerField()
    size_t = models.PositiveIntegerField()
    pixel_size_z = models.FloatField(null=True, blank=True, help_text="micrometres between z-planes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.size_z} z x {self.size_t} t)"


class Image(models.Model):
    """One field of view: one or more channels of the same width and height. A plane of a stack
    is an image too, with its `stack`, `z` and `t`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    dtype = models.CharField(max_length=16, help_text="widest numpy dtype of its channels")
    split = models.CharField(max_length=16, choices=Split.choices, default=Split.UNASSIGNED)
    # Micrometres per pixel along x and y, when the microscope's metadata says (measurements then
    # give areas in um^2 too); unknown for plain PNG and JPEG files.
    pixel_size_x = models.FloatField(null=True, blank=True, help_text="um per pixel along x")
    pixel_size_y = models.FloatField(null=True, blank=True, help_text="um per pixel along y")
    thumbnail = models.FileField(upload_to="thumbnails/", blank=True)
    stack = models.ForeignKey(Stack, null=True, blank=True, on_delete=models.CASCADE, related_name="planes")
    z = models.PositiveIntegerField(default=0)
    t = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=Q(archived_at__isnull=True),
                name="unique_live_image_name",
            ),
            models.UniqueConstraint(
                fields=["stack", "z", "t"], condition=Q(stack__isnull=False), name="one_image_per_plane"
            ),
        ]
        ordering = ["project_id", "name", "id"]

    def __str__(self) -> str:
        return self.name


class SourceFile(models.Model):
    """An uploaded file, kept byte for byte as it arrived. The planes of a stack each have a row
    naming the same stored file."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="sources")
    file = models.FileField(upload_to="originals/")
    original_name = models.CharField(max_length=255)
    pages = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="what the uploader said the pages of a TIFF without metadata are: channels, z or "
        "t; empty when the file says itself",
    )
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["image_id", "id"]


class Channel(models.Model):
    """A named channel of an image: one page (or colour plane) of one source file."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=64)
    index = models.PositiveSmallIntegerField()
    source = models.ForeignKey(SourceFile, on_delete=models.PROTECT, related_name="channels")
    page = models.PositiveIntegerField(
        default=0, help_text="plane in the source: (t * size_z + z) * channels + c (labeling/readers)"
    )
    dtype = models.CharField(max_length=16, help_text="numpy dtype of the original pixels")
    display = models.FileField(
        upload_to="display/", blank=True, help_text="8-bit PNG rendition with percentile contrast"
    )
    display_low = models.FloatField(help_text="original value shown as black")
    display_high = models.FloatField(help_text="original value shown as white")
    minimum = models.FloatField()
    maximum = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "name"], name="unique_channel_name"),
            models.UniqueConstraint(fields=["image", "index"], name="unique_channel_index"),
        ]
        ordering = ["image_id", "index"]


class AnnotationKind(models.TextChoices):
    TAG = "tag", "Image-level tag"
    SCRIBBLE = "scribble", "Sparse scribbles"
    DENSE = "dense", "Dense mask"
    POINTS = "points", "Points"
    DERIVED = "derived", "Derived pseudo-mask"
    TILES = "tiles", "Tile tags"


# Kinds whose revisions describe a label map of the image's size.
MAP_KINDS = {AnnotationKind.SCRIBBLE, AnnotationKind.DENSE, AnnotationKind.DERIVED}
# The label maps a person paints, which make an image's human label map (selectors.human_label_map),
# in the order they stack: scribbles on top of the dense mask.
HUMAN_MAP_KINDS = (AnnotationKind.DENSE, AnnotationKind.SCRIBBLE)
# What counts as "this image has labels" for guided labelling and the grid's "needs labels": any
# label a person makes that a run learns from (derived pseudo-masks are not a person's).
HUMAN_KINDS = frozenset(
    {AnnotationKind.SCRIBBLE, AnnotationKind.DENSE, AnnotationKind.TAG, AnnotationKind.TILES}
)
# Kinds whose layers are one per class (`key` is the class id, `label_class` is set).
CLASS_KINDS = frozenset({AnnotationKind.TAG, AnnotationKind.TILES})


class Annotation(models.Model):
    """The head of one label layer of one image; its content lives in its revisions.

    `key` tells layers of the same kind apart: the class id for a tag or tile tags, the
    provenance source for a derived mask (for example "fluorescence-teacher"), empty for the rest.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    kind = models.CharField(max_length=16, choices=AnnotationKind.choices)
    key = models.CharField(max_length=100, blank=True, default="")
    label_class = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="tags"
    )
    version = models.PositiveIntegerField(default=0)
    is_deleted = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "kind", "key"], name="one_layer_per_key")]
        ordering = ["image_id", "kind", "key"]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} of image {self.image_id} v{self.version}"


class AnnotationRevision(models.Model):
    """One immutable step in the history of an annotation.

    `data` holds what the step says, by kind:
    - tag: {"present": bool}
    - tiles: {"tiles": [[x, y, width, height, present], ...]} (the whole set; labeling/tiletags.py)
    - points: {"points": [[x, y, class_index], ...]} (the whole set)
    - scribble / dense / derived: {"strokes": [...]} appended to the layer, where each stroke is
      {"class_index": int (0 erases), "radius": float, "points": [[x, y], ...]}; and/or `mask`,
      a PNG label map of the image's size that replaces the layer before the strokes apply.
    - derived also records {"provenance": {...}}: which channel or model and parameters made it;
      so does a dense mask that was a model's prediction accepted by a person (dense_mask_replace).
    - any kind: {"restored_from": version} when a restore made this revision.
    A revision with `is_deleted` says the layer was deleted at that version.
    `snapshot`, when set, is the whole map after this revision (a cache of the replay).
    """

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField(default=dict)
    mask = models.FileField(upload_to="labelmaps/", blank=True)
    instances = models.FileField(
        upload_to="labelmaps/", blank=True, help_text="optional 16-bit instance map (dense)"
    )
    snapshot = models.FileField(
        upload_to="labelmaps/",
        blank=True,
        help_text="the layer's whole label map after this revision, written every few saves "
        "so that reading a layer never replays more than a few revisions",
    )
    is_deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotation", "version"], name="unique_revision")]
        ordering = ["annotation_id", "version"]


# Team workflow -------------------------------------------------------------------------------
# Who is asked to label which image, where each image stands in review, what people said about
# it, and who changed the project's members and settings. Labels themselves are untouched: these
# tables only say who is asked to do what (labeling/workflow.py holds the rules).


class ImageStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"


class ImageWork(models.Model):
    """An image's place in the team's work: its assignee and its review status.

    Made when an image is first assigned or labelled; an image without one is to do and
    unassigned. `approved_layers` freezes, at approval, the (annotation id, version) of each of
    the image's human label layers: what "train on approved labels only" learns from, so a later
    edit does not slip into it unreviewed.
    """

    image = models.OneToOneField(Image, on_delete=models.CASCADE, primary_key=True, related_name="work")
    status = models.CharField(max_length=24, choices=ImageStatus.choices, default=ImageStatus.TODO)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    approved_layers = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["assignee", "status"])]


class Comment(models.Model):
    """A remark on an image, pinned to a point (x, y in image pixels) or to the whole image.

    A comment without a parent opens a thread; replies point at it. Resolving is the thread's.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]


class StatusChange(models.Model):
    """One move of an image's review status: the image's review history, and what progress and
    the review queue are computed from."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="status_changes")
    action = models.CharField(max_length=24)
    previous = models.CharField(max_length=24, choices=ImageStatus.choices)
    status = models.CharField(max_length=24, choices=ImageStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["image_id", "at", "id"]


class AuditAction(models.TextChoices):
    PROJECT_CREATED = "project.created", "Project created"
    PROJECT_CHANGED = "project.changed", "Project name or description changed"
    PROJECT_ARCHIVED = "project.archived", "Project archived"
    MEMBER_INVITED = "member.invited", "Member invited"
    INVITATION_WITHDRAWN = "invitation.withdrawn", "Invitation withdrawn"
    INVITATION_DECLINED = "invitation.declined", "Invitation declined"
    MEMBER_ADDED = "member.added", "Member joined"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member's role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    CLASS_ADDED = "class.added", "Class added"
    CLASS_CHANGED = "class.changed", "Class changed"
    CLASS_REMOVED = "class.removed", "Class removed"


class AuditEntry(models.Model):
    """Who changed a project's members or settings, what and when (owners read these).

    `subject` names what changed (a user name, a class name); `details` holds the values before
    and after. `actor` is empty for changes made by the server itself (a management command).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    subject = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

"""Input and output shapes of the labeling API. They parse and present; services decide."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling import selectors
from labeling.imageio import PAGES_CHOICES
from labeling.models import (
    MAP_KINDS,
    Annotation,
    AnnotationKind,
    AnnotationRevision,
    Channel,
    Image,
    Invitation,
    LabelClass,
    Membership,
    Project,
    Role,
    Split,
)
from webapp import inputs


class ObjectIdField(serializers.IntegerField):
    """An object's id in a request body: a whole number a database key can hold, so an id out of
    range is a 400 naming the field, not a database error (a 500)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=inputs.MAX_INT, **kwargs)


class ProjectOut(serializers.ModelSerializer[Project]):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "role"]

    def get_role(self, project: Project) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectPatch(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class MembershipOut(serializers.ModelSerializer[Membership]):
    username = serializers.CharField(source="user.username", read_only=True)
    user_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]


class InvitationIn(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150, help_text="the user name to invite, exactly")
    role = serializers.ChoiceField(choices=Role.choices, help_text="the role they get by accepting")


class InvitationOut(serializers.ModelSerializer[Invitation]):
    project_name = serializers.CharField(source="project.name", read_only=True)
    invited_by = serializers.CharField(
        source="invited_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "project",
            "project_name",
            "username",
            "role",
            "invited_by",
            "created_at",
            "expires_at",
        ]


class InvitationSentOut(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="the same words whether or not the user name exists")
    invitation = InvitationOut()


class RoleIn(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class LabelClassOut(serializers.ModelSerializer[LabelClass]):
    class Meta:
        model = LabelClass
        fields = ["id", "name", "color", "index", "countable"]


class LabelClassIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    color = serializers.CharField(max_length=7, required=False)
    countable = serializers.BooleanField(required=False, default=False)


class LabelClassPatch(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    color = serializers.CharField(max_length=7, required=False)
    countable = serializers.BooleanField(required=False)


class ChannelOut(serializers.ModelSerializer[Channel]):
    display_url = serializers.SerializerMethodField()
    original_name = serializers.CharField(source="source.original_name", read_only=True)

    class Meta:
        model = Channel
        fields = [
            "name",
            "index",
            "original_name",
            "page",
            "dtype",
            "display_low",
            "display_high",
            "minimum",
            "maximum",
            "display_url",
        ]

    def get_display_url(self, channel: Channel) -> str:
        return f"/api/images/{channel.image_id}/channels/{channel.name}/display.png"


class ObjectCountsOut(serializers.Serializer[Any]):
    model_version = serializers.IntegerField(help_text="the model version that predicted them")
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="class index (as text) -> objects of that class"
    )


class ImageOut(serializers.ModelSerializer[Image]):
    channels = ChannelOut(many=True, read_only=True)
    thumbnail_url = serializers.SerializerMethodField()
    renditions_ready = serializers.SerializerMethodField()
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    label_kinds = serializers.SerializerMethodField(help_text="kinds of live label layers")
    predicted = serializers.SerializerMethodField(help_text="a model version has scored this image")
    pixel_size_x = serializers.FloatField(read_only=True, allow_null=True, help_text="micrometres per pixel")
    pixel_size_y = serializers.FloatField(read_only=True, allow_null=True, help_text="micrometres per pixel")
    stack = serializers.IntegerField(
        source="stack_id", read_only=True, allow_null=True, help_text="the stack this plane belongs to"
    )
    size_z = serializers.SerializerMethodField(help_text="z-planes of its stack (1 for a 2-D image)")
    size_t = serializers.SerializerMethodField(help_text="time points of its stack (1 for a 2-D image)")
    status = serializers.SerializerMethodField(help_text="review status (labeling/workflow.py)")
    assignee = serializers.SerializerMethodField(help_text="the member asked to label it, if any")
    object_counts = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id",
            "project",
            "name",
            "width",
            "height",
            "dtype",
            "split",
            "pixel_size_x",
            "pixel_size_y",
            "stack",
            "z",
            "t",
            "size_z",
            "size_t",
            "channels",
            "thumbnail_url",
            "renditions_ready",
            "label_kinds",
            "predicted",
            "status",
            "assignee",
            "object_counts",
            "uploaded_by",
            "created_at",
        ]

    def get_thumbnail_url(self, image: Image) -> str:
        return f"/api/images/{image.pk}/thumbnail.png"

    def get_renditions_ready(self, image: Image) -> bool:
        """False until a worker has made the display renditions of a large image."""
        return bool(image.thumbnail)

    def get_label_kinds(self, image: Image) -> list[str]:
        return selectors.label_kinds(image)

    def get_predicted(self, image: Image) -> bool:
        return selectors.is_predicted(image)

    def get_size_z(self, image: Image) -> int:
        return image.stack.size_z if image.stack else 1

    def get_size_t(self, image: Image) -> int:
        return image.stack.size_t if image.stack else 1

    def get_status(self, image: Image) -> str:
        return selectors.image_status(image)

    def get_assignee(self, image: Image) -> str | None:
        return selectors.image_assignee(image)

    @extend_schema_field(ObjectCountsOut(allow_null=True))
    def get_object_counts(self, image: Image) -> dict[str, Any] | None:
        """Objects per countable class in the image's newest prediction (null: none yet)."""
        return selectors.object_counts(image)


class PlaneOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    z = serializers.IntegerField()
    t = serializers.IntegerField()


class ImageDetailOut(ImageOut):
    """One image, with the planes of its stack (for a z/t slider: every live plane's id)."""

    planes = serializers.SerializerMethodField()

    class Meta(ImageOut.Meta):
        fields = [*ImageOut.Meta.fields, "planes"]

    @extend_schema_field(PlaneOut(many=True))
    def get_planes(self, image: Image) -> list[dict[str, int]]:
        return selectors.stack_planes(image)


class ImageUploadIn(serializers.Serializer[Any]):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    channels = serializers.CharField(
        required=False,
        help_text="comma-separated channel names: one per file to pair files as channels of one "
        "image, or one per page of a multi-page TIFF",
    )
    name = serializers.CharField(required=False, max_length=255)
    split = serializers.ChoiceField(choices=Split.choices, default=Split.UNASSIGNED)
    pages = serializers.ChoiceField(
        choices=PAGES_CHOICES,
        required=False,
        help_text="what the pages of a multi-page TIFF without metadata are: channels, z-planes or "
        "time points (such a TIFF is refused without it; OME-TIFF, ImageJ, CZI and ND2 say themselves)",
    )


class SplitIn(serializers.Serializer[Any]):
    images = serializers.ListField(child=ObjectIdField(), allow_empty=False, max_length=100_000)
    split = serializers.ChoiceField(choices=Split.choices)


class SplitOut(serializers.Serializer[Any]):
    split = serializers.CharField()
    images = serializers.ListField(child=serializers.IntegerField())


class HoldOutIn(serializers.Serializer[Any]):
    count = serializers.IntegerField(min_value=1, help_text="images (a stack counts as one) to validate on")
    seed = serializers.IntegerField(default=0, help_text="the same seed and images choose the same ones")
    with_dense_masks = serializers.BooleanField(
        default=False, help_text="choose only among images with a dense mask (validation scores on them)"
    )


class HoldOutOut(serializers.Serializer[Any]):
    seed = serializers.IntegerField()
    validation = serializers.ListField(child=serializers.IntegerField(), help_text="image ids held out")
    train = serializers.IntegerField(help_text="how many images are now in the training split")


class ImagePatch(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=255)
    split = serializers.ChoiceField(choices=Split.choices, required=False)
    pixel_size_x = serializers.FloatField(required=False, allow_null=True, help_text="um per pixel")
    pixel_size_y = serializers.FloatField(required=False, allow_null=True, help_text="um per pixel")


class JSONObjectField(serializers.JSONField):
    """A JSON object, also accepted as a string (multipart requests carry JSON as text)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = inputs.loads(data)
            except ValueError:
                raise serializers.ValidationError("Not valid JSON.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return data


class AnnotationIn(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=AnnotationKind.choices)
    base_version = serializers.IntegerField(min_value=0)
    label_class = serializers.IntegerField(required=False, allow_null=True)
    # DRF pops declared fields off the class, so this does not shadow Serializer.data.
    data = JSONObjectField(required=False, default=dict)  # type: ignore[assignment]
    mask = serializers.FileField(required=False, help_text="PNG label map (0 = unknown)")
    instances = serializers.FileField(required=False, help_text="16-bit PNG instance map (dense)")


class AnnotationImportIn(serializers.Serializer[Any]):
    files = serializers.ListField(
        child=serializers.FileField(),
        allow_empty=False,
        help_text="label images (PNG/TIFF, named like their images), COCO JSON, QuPath GeoJSON (one "
        "per image, named like it), or zips of these",
    )
    label_images = serializers.ChoiceField(
        choices=["instances", "classes"],
        default="instances",
        help_text="instances: each value an object of class_name; classes: each value a class",
    )
    class_name = serializers.CharField(
        required=False, max_length=100, help_text="the class of instance label images and unclassified shapes"
    )
    classes = JSONObjectField(
        required=False,
        help_text='class label images: value -> class name, e.g. {"1": "background", "2": "nucleus"} '
        "(default: values are the project's class indices)",
    )
    create_classes = serializers.BooleanField(default=False, help_text="create classes the project lacks")
    existing = serializers.ChoiceField(
        choices=["refuse", "skip", "replace"],
        default="refuse",
        help_text="images that already have a dense mask: refuse the import, skip them, or add a new version",
    )
    rest = serializers.ChoiceField(
        choices=["background", "unknown"],
        default="background",
        help_text="what pixels outside every object become",
    )

    def validate_classes(self, value: dict[str, Any]) -> dict[int, str]:
        table: dict[int, str] = {}
        for key, name in value.items():
            if not str(key).isdigit() or not isinstance(name, str) or not name.strip():
                raise serializers.ValidationError('Give values as {"1": "class name", ...}.')
            table[int(key)] = name.strip()
        return table


class SkippedOut(serializers.Serializer[Any]):
    image = serializers.CharField()
    reason = serializers.CharField()


class AnnotationImportOut(serializers.Serializer[Any]):
    images = serializers.ListField(child=serializers.IntegerField(), help_text="images given a dense layer")
    objects = serializers.IntegerField()
    classes_created = serializers.ListField(child=serializers.CharField())
    skipped = SkippedOut(many=True)
    skipped_shapes = serializers.IntegerField(help_text="points, lines and boxes, which cannot be masks")


class VersionIn(serializers.Serializer[Any]):
    base_version = serializers.IntegerField(min_value=0)


class RestoreIn(VersionIn):
    version = serializers.IntegerField(min_value=1)


class AnnotationOut(serializers.ModelSerializer[Annotation]):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True)
    data = serializers.SerializerMethodField()  # type: ignore[assignment]
    mask_url = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id",
            "image",
            "kind",
            "key",
            "label_class",
            "version",
            "is_deleted",
            "created_by",
            "created_at",
            "updated_by",
            "updated_at",
            "data",
            "mask_url",
        ]

    def get_data(self, annotation: Annotation) -> dict[str, Any]:
        """Tags and points: their current value; map layers: their provenance if any."""
        latest = annotation.revisions.order_by("-version").first()
        if latest is None or latest.is_deleted:
            return {}
        if annotation.kind in MAP_KINDS:
            provenance = latest.data.get("provenance")
            return {"provenance": provenance} if provenance else {}
        return {k: v for k, v in latest.data.items() if k != "restored_from"}

    def get_mask_url(self, annotation: Annotation) -> str | None:
        if annotation.kind not in MAP_KINDS:
            return None
        return f"/api/annotations/{annotation.pk}/mask.png?version={annotation.version}"


class RevisionOut(serializers.ModelSerializer[AnnotationRevision]):
    author = serializers.CharField(source="author.username", read_only=True)
    has_mask = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationRevision
        fields = ["version", "author", "created_at", "data", "has_mask", "is_deleted"]

    def get_has_mask(self, revision: AnnotationRevision) -> bool:
        return bool(revision.mask)

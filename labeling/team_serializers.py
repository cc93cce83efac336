"""Input and output shapes of the team workflow's API: assignments, review moves, comments, the
review queue and the audit list. They parse and present; services decide."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from labeling.models import AuditEntry, Comment, ImageWork, StatusChange
from labeling.serializers import ObjectIdField
from labeling.workflow import REQUESTED_MOVES


class MemberNameField(serializers.CharField):
    """A member's user name, read as the user. The project comes in the serializer's context; a
    name nobody has gets the same answer as a non-member's, so it does not tell which names exist."""

    def to_internal_value(self, data: Any) -> Any:
        name = super().to_internal_value(data)
        membership = self.context["project"].memberships.filter(user__username=name).first()
        if membership is None:
            raise serializers.ValidationError(f"{name} is not a member of this project; invite them first.")
        return membership.user


class AssignIn(serializers.Serializer[Any]):
    images = serializers.ListField(child=ObjectIdField(), allow_empty=False)
    assignee = MemberNameField(allow_null=True, help_text="a member's user name; null takes the images back")


class AssignOut(serializers.Serializer[Any]):
    images = serializers.ListField(child=serializers.IntegerField())
    assignee = serializers.CharField(allow_null=True)


class ShareIn(serializers.Serializer[Any]):
    annotators = serializers.ListField(child=MemberNameField(), allow_empty=False)
    count = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="how many images to share (default: all)"
    )


class ShareOut(serializers.Serializer[Any]):
    shares = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text="user name -> image ids"
    )


class MoveIn(serializers.Serializer[Any]):
    move = serializers.ChoiceField(choices=[str(move) for move in REQUESTED_MOVES])
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="request_changes needs one",
    )
    x = serializers.FloatField(required=False, allow_null=True, default=None)
    y = serializers.FloatField(required=False, allow_null=True, default=None)


class StatusChangeOut(serializers.ModelSerializer[StatusChange]):
    by = serializers.CharField(source="by.username", read_only=True)
    move = serializers.CharField(source="action", read_only=True)
    note = serializers.SerializerMethodField()

    class Meta:
        model = StatusChange
        fields = ["move", "previous", "status", "by", "at", "comment", "note"]

    def get_note(self, change: StatusChange) -> str:
        return change.comment.body if change.comment is not None else ""


class WorkOut(serializers.ModelSerializer[ImageWork]):
    assignee = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )
    history = serializers.SerializerMethodField()

    class Meta:
        model = ImageWork
        fields = ["image", "status", "assignee", "assigned_at", "status_at", "approved_layers", "history"]

    def get_history(self, work: ImageWork) -> list[dict[str, Any]]:
        history = self.context.get("history")
        return list(StatusChangeOut(history, many=True).data) if history is not None else []


class WaitingOut(serializers.Serializer[Any]):
    image = serializers.IntegerField()
    name = serializers.CharField()
    submitted_by = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    assignee = serializers.CharField(allow_null=True)


class CommentIn(serializers.Serializer[Any]):
    body = serializers.CharField(help_text="the text (at most TEAM_COMMENT_MAX_CHARS characters)")
    x = serializers.FloatField(required=False, allow_null=True, default=None, help_text="image pixels")
    y = serializers.FloatField(required=False, allow_null=True, default=None)
    reply_to = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="a comment of the thread this answers"
    )


class ReplyOut(serializers.ModelSerializer[Comment]):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]


class CommentOut(serializers.ModelSerializer[Comment]):
    """A thread: its first comment, where it is pinned, whether it is resolved, and its replies."""

    author = serializers.CharField(source="author.username", read_only=True)
    image_name = serializers.CharField(source="image.name", read_only=True)
    resolved = serializers.SerializerMethodField()
    resolved_by = serializers.CharField(
        source="resolved_by.username", read_only=True, allow_null=True, default=None
    )
    replies = ReplyOut(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "image",
            "image_name",
            "author",
            "body",
            "x",
            "y",
            "created_at",
            "resolved",
            "resolved_by",
            "resolved_at",
            "replies",
        ]

    def get_resolved(self, comment: Comment) -> bool:
        return comment.resolved_at is not None


class ResolveIn(serializers.Serializer[Any]):
    resolved = serializers.BooleanField(default=True, help_text="false reopens the thread")


class AuditOut(serializers.ModelSerializer[AuditEntry]):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)
    what = serializers.CharField(source="get_action_display", read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "what", "subject", "details"]

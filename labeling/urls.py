from __future__ import annotations

from django.urls import path

from labeling import invitation_views, team_views, views

urlpatterns = [
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:project_id>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", views.MemberList.as_view(), name="member-list"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/",
        views.MemberDetail.as_view(),
        name="member-detail",
    ),
    path(
        "projects/<int:project_id>/invitations/",
        invitation_views.ProjectInvitations.as_view(),
        name="project-invitations",
    ),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/",
        invitation_views.ProjectInvitationDetail.as_view(),
        name="project-invitation-detail",
    ),
    path("invitations/", invitation_views.MyInvitations.as_view(), name="my-invitations"),
    path(
        "invitations/<int:invitation_id>/accept/",
        invitation_views.InvitationAccept.as_view(),
        name="invitation-accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        invitation_views.InvitationDecline.as_view(),
        name="invitation-decline",
    ),
    path("projects/<int:project_id>/classes/", views.ClassList.as_view(), name="class-list"),
    path(
        "projects/<int:project_id>/classes/<int:class_id>/",
        views.ClassDetail.as_view(),
        name="class-detail",
    ),
    path("projects/<int:project_id>/images/", views.ImageList.as_view(), name="image-list"),
    path("projects/<int:project_id>/images/split/", views.ImageSplit.as_view(), name="image-split"),
    path("projects/<int:project_id>/images/hold-out/", views.ImageHoldOut.as_view(), name="image-hold-out"),
    path("images/<int:image_id>/", views.ImageDetail.as_view(), name="image-detail"),
    path("images/<int:image_id>/thumbnail.png", views.ImageThumbnail.as_view(), name="image-thumbnail"),
    path(
        "images/<int:image_id>/channels/<str:channel>/display.png",
        views.ChannelDisplay.as_view(),
        name="channel-display",
    ),
    path(
        "images/<int:image_id>/channels/<str:channel>/tiles/<int:level>/<int:col>/<int:row>.png",
        views.ChannelTile.as_view(),
        name="channel-tile",
    ),
    path(
        "images/<int:image_id>/channels/<str:channel>/original",
        views.ChannelOriginal.as_view(),
        name="channel-original",
    ),
    path("images/<int:image_id>/annotations/", views.AnnotationList.as_view(), name="annotation-list"),
    path(
        "projects/<int:project_id>/annotations/import/",
        views.AnnotationImport.as_view(),
        name="annotation-import",
    ),
    path("annotations/<int:annotation_id>/", views.AnnotationDetail.as_view(), name="annotation-detail"),
    path(
        "annotations/<int:annotation_id>/revisions/",
        views.AnnotationRevisions.as_view(),
        name="annotation-revisions",
    ),
    path(
        "annotations/<int:annotation_id>/restore/",
        views.AnnotationRestore.as_view(),
        name="annotation-restore",
    ),
    path("annotations/<int:annotation_id>/mask.png", views.AnnotationMask.as_view(), name="annotation-mask"),
    # The team workflow (labeling/team_views.py)
    path("projects/<int:project_id>/assignments/", team_views.AssignImages.as_view(), name="assign-images"),
    path(
        "projects/<int:project_id>/assignments/share/", team_views.ShareImages.as_view(), name="share-images"
    ),
    path("images/<int:image_id>/status/", team_views.ImageStatusView.as_view(), name="image-status"),
    path("projects/<int:project_id>/review-queue/", team_views.ReviewQueue.as_view(), name="review-queue"),
    path("images/<int:image_id>/comments/", team_views.ImageComments.as_view(), name="image-comments"),
    path(
        "projects/<int:project_id>/comments/", team_views.ProjectComments.as_view(), name="project-comments"
    ),
    path("comments/<int:comment_id>/resolve/", team_views.CommentResolve.as_view(), name="comment-resolve"),
    path("projects/<int:project_id>/progress/", team_views.Progress.as_view(), name="progress"),
    path("projects/<int:project_id>/progress.csv", team_views.ProgressCsv.as_view(), name="progress-csv"),
    path("projects/<int:project_id>/audit/", team_views.AuditList.as_view(), name="audit"),
]

from __future__ import annotations

from django.urls import path

from training.api import models_out, views

urlpatterns = [
    path("projects/<int:project_id>/runs/", views.RunList.as_view(), name="run-list"),
    path("projects/<int:project_id>/run-estimate/", views.RunEstimate.as_view(), name="run-estimate"),
    path("runs/<int:run_id>/", views.RunDetail.as_view(), name="run-detail"),
    path("runs/<int:run_id>/cancel/", views.RunCancel.as_view(), name="run-cancel"),
    path("runs/<int:run_id>/metrics/", views.RunMetrics.as_view(), name="run-metrics"),
    path("runs/<int:run_id>/previews/<int:seq>.png", views.RunPreview.as_view(), name="run-preview"),
    path(
        "projects/<int:project_id>/model-versions/",
        views.ModelVersionList.as_view(),
        name="model-version-list",
    ),
    path(
        "projects/<int:project_id>/model-versions/import/",
        models_out.ModelVersionImport.as_view(),
        name="model-version-import",
    ),
    path(
        "model-versions/<int:version_id>/export/",
        models_out.ModelVersionExport.as_view(),
        name="model-version-export",
    ),
    path("model-versions/<int:version_id>/pseudo-masks/", views.PseudoMasks.as_view(), name="pseudo-masks"),
    path(
        "projects/<int:project_id>/predictions/",
        views.PredictionList.as_view(),
        name="prediction-list",
    ),
    path("predictions/<int:prediction_id>/mask.png", views.PredictionMask.as_view(), name="prediction-mask"),
    path(
        "predictions/<int:prediction_id>/uncertainty.png",
        views.PredictionUncertainty.as_view(),
        name="prediction-uncertainty",
    ),
    path(
        "predictions/<int:prediction_id>/instances/",
        views.PredictionInstances.as_view(),
        name="prediction-instances",
    ),
    path(
        "predictions/<int:prediction_id>/measurements/",
        views.PredictionMeasurements.as_view(),
        name="prediction-measurements",
    ),
    path(
        "predictions/<int:prediction_id>/measurements.csv",
        views.PredictionMeasurementsCsv.as_view(),
        name="prediction-measurements-csv",
    ),
    path(
        "predictions/<int:prediction_id>/accept/", views.PredictionAccept.as_view(), name="prediction-accept"
    ),
    path("projects/<int:project_id>/export/", views.ProjectExport.as_view(), name="project-export"),
    path(
        "projects/<int:project_id>/measurements/",
        views.ProjectMeasurements.as_view(),
        name="project-measurements",
    ),
    path(
        "projects/<int:project_id>/measurements.csv",
        views.ProjectMeasurementsCsv.as_view(),
        name="project-measurements-csv",
    ),
    path(
        "images/<int:image_id>/dense/measurements/",
        views.DenseMeasurements.as_view(),
        name="dense-measurements",
    ),
    path(
        "images/<int:image_id>/dense/measurements.csv",
        views.DenseMeasurementsCsv.as_view(),
        name="dense-measurements-csv",
    ),
    path("model-versions/<int:version_id>/predict/", views.ModelVersionPredict.as_view(), name="predict"),
    path(
        "projects/<int:project_id>/prediction-jobs/",
        views.PredictionJobList.as_view(),
        name="prediction-job-list",
    ),
    path("prediction-jobs/<int:job_id>/", views.PredictionJobDetail.as_view(), name="prediction-job-detail"),
    path(
        "prediction-jobs/<int:job_id>/cancel/",
        views.PredictionJobCancel.as_view(),
        name="prediction-job-cancel",
    ),
    path(
        "images/<int:image_id>/instant-preview.png",
        views.InstantPreviewMask.as_view(),
        name="instant-preview",
    ),
    path(
        "projects/<int:project_id>/fluorescence-teacher/",
        views.TeacherOverview.as_view(),
        name="teacher-overview",
    ),
    path(
        "projects/<int:project_id>/fluorescence-teacher/apply/",
        views.TeacherApply.as_view(),
        name="teacher-apply",
    ),
    path(
        "images/<int:image_id>/fluorescence-teacher/preview/",
        views.TeacherPreview.as_view(),
        name="teacher-preview",
    ),
    path(
        "images/<int:image_id>/fluorescence-teacher/exclude/",
        views.TeacherExclude.as_view(),
        name="teacher-exclude",
    ),
    path(
        "images/<int:image_id>/fluorescence-teacher/include/",
        views.TeacherInclude.as_view(),
        name="teacher-include",
    ),
    path("projects/<int:project_id>/next-image/", views.NextImage.as_view(), name="next-image"),
    path(
        "projects/<int:project_id>/uncertainty-ranking/",
        views.UncertaintyRanking.as_view(),
        name="uncertainty-ranking",
    ),
    path("model-versions/<int:version_id>/retrain/", views.ModelVersionRetrain.as_view(), name="retrain"),
    path("projects/<int:project_id>/studies/", views.StudyList.as_view(), name="study-list"),
    path("projects/<int:project_id>/studies/plan/", views.StudyPlan.as_view(), name="study-plan"),
    path("studies/<int:study_id>/", views.StudyDetail.as_view(), name="study-detail"),
    path("studies/<int:study_id>/cancel/", views.StudyCancel.as_view(), name="study-cancel"),
]

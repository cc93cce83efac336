"""The training REST API: runs, their curves and previews, model versions and predictions.

Reads of runs first sweep runs whose worker died (training/runs/lifecycle.py), so a page sees such a run
failed within RUN_STALE_SECONDS even while no worker is up to sweep it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any, TypeVar, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.access import image_for, project_for, require_role
from labeling.models import Project, Role
from labeling.selectors import projects_for
from labeling.serializers import AnnotationOut, ImageOut
from training.api.serializers import (
    AcceptIn,
    ModelVersionOut,
    PredictIn,
    PredictionJobOut,
    PredictionOut,
    PseudoMasksIn,
    RankedImageOut,
    RunEstimateOut,
    RunMetricOut,
    StudyIn,
    StudyOut,
    StudyPlanIn,
    TeacherApplyIn,
    TeacherIn,
    TrainingRunIn,
    TrainingRunOut,
)
from training.exports import spec, stream
from training.features import guidance, instant, pseudo, study, teacher
from training.models import ModelVersion, Prediction, PredictionJob, Study, TrainingRun
from training.predict import accept, exports
from training.predict import job as prediction_job
from training.runs import create, lifecycle, presets, timing
from training.runs.spec import MAX_BATCH_SIZE, MAX_PATCH_SIZE, MAX_STEPS
from training.strategies import STRATEGIES
from training.strategies import tags as tags_strategy
from webapp.rest import query_int, valid_input

# The sizes a run estimate takes as query parameters, with their bounds (a run's own, spec.py).
ESTIMATE_SIZES = {
    "steps": (1, MAX_STEPS),
    "steps_per_epoch": (1, MAX_STEPS),
    "warmup_steps": (0, MAX_STEPS),
    "batch_size": (1, MAX_BATCH_SIZE),
    "patch_size": (32, MAX_PATCH_SIZE),
}

# A tags run's options that its estimate takes (their bounds are the run's, training/strategies/tags.py).
TAG_ESTIMATE_OPTIONS = ("tag_class", "tile", "classifier_steps")
MAX_TAG_OPTION = 2**31 - 1

InProject = TypeVar("InProject", TrainingRun, ModelVersion, Study, PredictionJob)


def in_project_for(
    model: type[InProject], user: object, object_id: int, *, needs: Role = Role.VIEWER
) -> InProject:
    """One of the user's projects' runs, versions or studies: 404 for anyone outside the
    project, 403 for a member whose role is below `needs`."""
    found = model.objects.filter(project__in=projects_for(user), pk=object_id).first()
    if found is None:
        raise NotFound(f"No such {model._meta.verbose_name}.")
    require_role(user, found.project, needs)
    return found


Swept = TypeVar("Swept", TrainingRun, Study)


def swept_list(model: type[Swept], request: Request, project_id: int) -> QuerySet[Swept]:
    """The project's runs or studies, read after sweeping the runs whose worker died."""
    project = project_for(request.user, project_id)
    lifecycle.sweep_stale_runs()
    return model.objects.filter(project=project).select_related("created_by")


def swept_one(model: type[Swept], request: Request, object_id: int) -> Swept:
    """One of the user's runs or studies, read after sweeping the runs whose worker died."""
    lifecycle.sweep_stale_runs()
    return in_project_for(model, request.user, object_id)


class RunList(generics.ListAPIView[TrainingRun]):
    serializer_class = TrainingRunOut

    def get_queryset(self) -> QuerySet[TrainingRun]:
        return swept_list(TrainingRun, self.request, self.kwargs["project_id"])

    @extend_schema(request=TrainingRunIn, responses={201: TrainingRunOut})
    def post(self, request: Request, project_id: int) -> Response:
        """Start a run: the labels as they are now, trained on a gpu-queue worker."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(TrainingRunIn, request.data)
        warm_start = None
        if fields.get("warm_start") is not None:
            warm_start = ModelVersion.objects.filter(
                project__in=projects_for(request.user), pk=fields["warm_start"]
            ).first()
            if warm_start is None:
                raise ValidationError({"warm_start": "No such model version in a project you can read."})
        run = create.run_create(
            project=project, user=request.user, options=fields["config"], warm_start=warm_start
        )
        return Response(TrainingRunOut(run).data, status=201)


class RunEstimate(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("preset", str, required=False, enum=list(presets.PRESET_NAMES)),
            *(OpenApiParameter(name, int, required=False) for name in ESTIMATE_SIZES),
            OpenApiParameter("strategy", str, required=False, enum=list(STRATEGIES)),
            *(
                OpenApiParameter(name, int, required=False, description="strategy=tags only")
                for name in TAG_ESTIMATE_OPTIONS
            ),
        ],
        responses={200: RunEstimateOut},
    )
    def get(self, request: Request, project_id: int) -> Response:
        """The presets, and the expected training time of a run with the chosen preset and sizes,
        from this installation's measured step times ("unknown" until a run has finished)."""
        project = project_for(request.user, project_id)
        options: dict[str, Any] = {"preset": request.query_params.get("preset")}
        for name, (low, high) in ESTIMATE_SIZES.items():
            if (value := query_int(request, name, minimum=low, maximum=high)) is not None:
                options[name] = value
        found = timing.run_estimate(options=options, tag_stage=_tag_stage_asked(request, project))
        sizes = {key: getattr(found.train, key) for key in presets.PRESET_KEYS}
        body = {
            "preset": found.preset,
            "device": found.device,
            **sizes,
            "estimate": "unknown" if found.seconds is None else "measured",
            "seconds": found.seconds,
            "measured_runs": found.measured_runs,
            "tag_stage_seconds": found.tag_stage_seconds,
            "tag_stage_runs": found.tag_stage_runs,
            "default_preset": presets.DEFAULT_PRESET,
            "presets": presets.presets_for(found.device),
        }
        return Response(RunEstimateOut(body).data)


def _tag_stage_asked(request: Request, project: Project) -> timing.TagStage | None:
    """A tags run's classifier and maps, when the estimate is asked for strategy=tags."""
    strategy = request.query_params.get("strategy", "labels")
    if strategy not in STRATEGIES:
        raise ValidationError({"strategy": f"must be one of {', '.join(STRATEGIES)}."})
    if strategy != "tags":
        return None
    options = {name: query_int(request, name, maximum=MAX_TAG_OPTION) for name in TAG_ESTIMATE_OPTIONS}
    return tags_strategy.estimated_stage(
        project=project, options={name: value for name, value in options.items() if value is not None}
    )


class RunDetail(APIView):
    serializer_class = TrainingRunOut

    def get(self, request: Request, run_id: int) -> Response:
        return Response(TrainingRunOut(swept_one(TrainingRun, request, run_id)).data)


class RunCancel(APIView):
    @extend_schema(request=None, responses={200: TrainingRunOut})
    def post(self, request: Request, run_id: int) -> Response:
        """Cancel: a queued run at once, a running one within one training step (409 if finished)."""
        run = lifecycle.run_cancel(run=in_project_for(TrainingRun, request.user, run_id, needs=Role.MANAGER))
        return Response(TrainingRunOut(run).data)


class RunMetrics(APIView):
    serializer_class = RunMetricOut

    @extend_schema(
        parameters=[OpenApiParameter("after", int, required=False)], responses=RunMetricOut(many=True)
    )
    def get(self, request: Request, run_id: int) -> Response:
        """The run's curve points so far, in order; `after` gives those past a known seq."""
        run = in_project_for(TrainingRun, request.user, run_id)
        metrics = run.metrics.all()
        if (after := query_int(request, "after")) is not None:
            metrics = metrics.filter(seq__gt=after)
        return Response(RunMetricOut(metrics, many=True).data)


class RunPreview(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, run_id: int, seq: int) -> FileResponse:
        """A preview label map (PNG, values are class indices) a run made during training."""
        metric = (
            in_project_for(TrainingRun, request.user, run_id).metrics.filter(seq=seq, kind="preview").first()
        )
        if metric is None:
            raise NotFound("No such preview.")
        return FileResponse(default_storage.open(metric.values["file"], "rb"), content_type="image/png")


class ModelVersionList(generics.ListAPIView[ModelVersion]):
    serializer_class = ModelVersionOut

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return project_for(self.request.user, self.kwargs["project_id"]).model_versions.all()


class PredictionList(generics.ListAPIView[Prediction]):
    serializer_class = PredictionOut

    def get_queryset(self) -> QuerySet[Prediction]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        predictions = Prediction.objects.filter(model_version__project=project)
        for name in ("image", "model_version"):
            if (value := query_int(self.request, name)) is not None:
                predictions = predictions.filter(**{f"{name}_id": value})
        return predictions

    @extend_schema(
        parameters=[
            OpenApiParameter("image", int, required=False),
            OpenApiParameter("model_version", int, required=False),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _prediction_for(user: Any, prediction_id: int, *, needs: Role = Role.VIEWER) -> Prediction:
    readable = Prediction.objects.filter(model_version__project__in=projects_for(user))
    prediction = readable.filter(pk=prediction_id).select_related("image", "model_version__project").first()
    if prediction is None:
        raise NotFound("No such prediction.")
    require_role(user, prediction.model_version.project, needs)
    return prediction


class PredictionMask(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, prediction_id: int) -> FileResponse:
        """The predicted class map (PNG, values are class indices)."""
        prediction = _prediction_for(request.user, prediction_id)
        return FileResponse(prediction.mask.open("rb"), content_type="image/png")


class PredictionUncertainty(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, prediction_id: int) -> FileResponse:
        """Per-pixel normalised entropy as an 8-bit PNG (255 = the model cannot tell the classes apart)."""
        prediction = _prediction_for(request.user, prediction_id)
        return FileResponse(prediction.uncertainty_map.open("rb"), content_type="image/png")


class PredictionInstances(APIView):
    @extend_schema(
        responses={(200, "image/png"): OpenApiTypes.BINARY, (200, "image/tiff"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, prediction_id: int) -> FileResponse:
        """The objects of the countable classes: a 16-bit PNG instance map (0 = no object, the
        values are the measurements' labels), a 32-bit TIFF past 65535 objects."""
        prediction = _prediction_for(request.user, prediction_id)
        if not prediction.instances:
            raise NotFound("This prediction has no instance map: the project had no countable class.")
        tiff = str(prediction.instances.name).endswith(".tif")
        return FileResponse(
            prediction.instances.open("rb"), content_type="image/tiff" if tiff else "image/png"
        )


class PredictionMeasurements(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, prediction_id: int) -> Response:
        """Objects per countable class and one row per object (exports.py says the columns)."""
        prediction = _prediction_for(request.user, prediction_id)
        measured = exports.prediction_measured(prediction)
        return Response(
            {
                "prediction": prediction.pk,
                "image": prediction.image_id,
                "image_name": prediction.image.name,
                "model_version": prediction.model_version_id,
                **_measured_json(measured),
            }
        )


def _measured_json(measured: exports.Measured) -> dict[str, Any]:
    """Counts, columns and one row per object, as both measurement views answer them."""
    return {"counts": measured.counts, "columns": measured.table.columns, "objects": measured.objects()}


class PredictionMeasurementsCsv(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, prediction_id: int) -> HttpResponse:
        """The same rows as CSV, each with the image's name and the model version."""
        prediction = _prediction_for(request.user, prediction_id)
        text = exports.as_csv(
            exports.prediction_measured(prediction),
            image=prediction.image.name,
            model_version=prediction.model_version_id,
        )
        return _csv(text, f"{prediction.image.name}-v{prediction.model_version_id}-objects.csv")


class PredictionAccept(APIView):
    @extend_schema(request=AcceptIn, responses={201: AnnotationOut, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, prediction_id: int) -> Response:
        """Make the prediction the image's dense mask: a new revision by you (the mask it replaces
        stays restorable); 409 with the current version when base_version is not it."""
        prediction = _prediction_for(request.user, prediction_id, needs=Role.ANNOTATOR)
        head = accept.prediction_accept(
            prediction=prediction,
            author=request.user,
            base_version=valid_input(AcceptIn, request.data)["base_version"],
        )
        return Response(AnnotationOut(head).data, status=201)


class DenseMeasurements(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, image_id: int) -> Response:
        """The objects of the image's human dense mask, counted and measured as predictions are."""
        image = image_for(request.user, image_id)
        measured = exports.dense_measured(image)
        return Response(
            {
                "image": image.pk,
                "image_name": image.name,
                **_measured_json(measured),
            }
        )


class DenseMeasurementsCsv(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, image_id: int) -> HttpResponse:
        image = image_for(request.user, image_id)
        text = exports.as_csv(exports.dense_measured(image), image=image.name, model_version="human")
        return _csv(text, f"{image.name}-dense-objects.csv")


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


class ProjectMeasurements(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("model_version", int, required=False)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        """Every object of every image a model version predicted (default: the newest that
        predicted), one row each with the image's name and the version; streamed."""
        project, version = _project_and_version(request, project_id)
        return StreamingHttpResponse(
            _streamed(exports.project_json(project, version)), content_type="application/json"
        )


class ProjectMeasurementsCsv(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("model_version", int, required=False)],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        """The same rows as CSV, streamed."""
        project, version = _project_and_version(request, project_id)
        response = StreamingHttpResponse(
            _streamed(exports.project_csv(project, version)), content_type="text/csv; charset=utf-8"
        )
        name = f"{project.name}-v{version.pk}-objects.csv"
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response


class ProjectExport(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("what", str, enum=list(spec.WHATS), required=False),
            OpenApiParameter(
                "as", str, required=False, description="comma-separated: " + ", ".join(spec.FORMATS)
            ),
            OpenApiParameter("model_version", int, required=False),
        ],
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        """The project's labels or a model version's predictions as a zip, streamed (training/exports).
        Every member may export: the zip holds what their role already reads through the API."""
        project = project_for(request.user, project_id)
        try:
            parsed = spec.parse_spec({key: request.query_params.get(key) for key in request.query_params})
        except spec.OptionError as error:
            raise ValidationError({error.option: error.message}) from None
        export = stream.export_prepare(project=project, spec=parsed, max_images=settings.EXPORT_MAX_IMAGES)
        response = StreamingHttpResponse(
            _streamed_bytes(stream.export_stream(export)), content_type="application/zip"
        )
        response["Content-Disposition"] = content_disposition_header(True, export.file_name)
        return response


async def _streamed_bytes(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """As `_streamed`, for chunks that are bytes already (empty ones are not sent)."""
    end = object()
    step = sync_to_async(lambda: next(chunks, end))
    while (chunk := await step()) is not end:
        if chunk:
            yield cast(bytes, chunk)


def _project_and_version(request: Request, project_id: int) -> tuple[Project, ModelVersion]:
    project = project_for(request.user, project_id)
    return project, exports.project_version(project, query_int(request, "model_version"))


async def _streamed(chunks: Iterator[str]) -> AsyncIterator[bytes]:
    """Sends a synchronous generator's chunks as they come: under ASGI, Django would read a
    synchronous iterator whole before sending a byte. Each chunk is made on the thread Django's
    database calls run on."""
    end = object()
    step = sync_to_async(lambda: next(chunks, end))
    while (chunk := await step()) is not end:
        yield str(chunk).encode()


# Prediction jobs ------------------------------------------------------------------------------


class PredictionJobList(generics.ListAPIView[PredictionJob]):
    serializer_class = PredictionJobOut

    def get_queryset(self) -> QuerySet[PredictionJob]:
        """The project's prediction jobs, newest first."""
        project = project_for(self.request.user, self.kwargs["project_id"])
        return project.prediction_jobs.select_related("created_by")


class ModelVersionPredict(APIView):
    @extend_schema(request=PredictIn, responses={201: PredictionJobOut})
    def post(self, request: Request, version_id: int) -> Response:
        """Predict a selection of the project's images with this version, on a worker; progress on
        the socket as prediction.progress, predictions.ready, then prediction.done (managers)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        incoming = PredictIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        job = prediction_job.prediction_job_start(
            version=version, author=request.user, selection=incoming.selection()
        )
        return Response(PredictionJobOut(job).data, status=201)


class PredictionJobDetail(APIView):
    serializer_class = PredictionJobOut

    def get(self, request: Request, job_id: int) -> Response:
        return Response(PredictionJobOut(in_project_for(PredictionJob, request.user, job_id)).data)


class PredictionJobCancel(APIView):
    @extend_schema(request=None, responses={200: PredictionJobOut})
    def post(self, request: Request, job_id: int) -> Response:
        """Cancel: a queued job at once, a running one after its current image (409 once ended)."""
        job = in_project_for(PredictionJob, request.user, job_id, needs=Role.MANAGER)
        return Response(PredictionJobOut(prediction_job.prediction_job_cancel(job=job)).data)


class InstantPreviewMask(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 204: None})
    def get(self, request: Request, image_id: int) -> FileResponse | Response:
        """The image's latest instant preview: a fast model's class map at preview scale (PNG label
        map, values are class indices); X-Preview-Seq and X-Preview-Made-At say which and when.
        204 while the image has none: a normal state (no strokes of two classes saved since the
        previews were last cleared), not a missing resource, so browsers log no failed load."""
        image = image_for(request.user, image_id)
        found = instant.open_latest_preview(image.pk)
        if found is None:
            return Response(status=204, headers={"Cache-Control": "no-store"})
        stored, handle = found
        response = FileResponse(handle, content_type="image/png")
        response["X-Preview-Seq"] = str(stored.seq)
        response["X-Preview-Made-At"] = str(stored.meta["made_at"])
        response["X-Preview-Images"] = str(stored.meta["images"])
        response["Cache-Control"] = "no-store"  # the same URL answers the next preview
        return response


class PseudoMasks(APIView):
    @extend_schema(request=PseudoMasksIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, version_id: int) -> Response:
        """Turn the version's confident predictions into derived layers, on a worker (202)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        threshold = valid_input(PseudoMasksIn, request.data)["max_uncertainty"]
        scored = pseudo.pseudo_masks_start(version=version, author=request.user, max_uncertainty=threshold)
        return Response(
            {"model_version": version.pk, "images": scored, "max_uncertainty": threshold}, status=202
        )


# The fluorescence teacher -------------------------------------------------------------------


class TeacherOverview(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The teacher's defaults, each image's channels and teacher state, and the last apply job."""
        project = project_for(request.user, project_id)
        return Response(teacher.teacher_overview(project))


class TeacherPreview(APIView):
    @extend_schema(request=TeacherIn, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Run the pipeline on one image now: an RGBA overlay PNG (data URL) and the nucleus count."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        data = valid_input(TeacherIn, request.data)
        preview = teacher.teacher_preview(
            image=image, channel=data["channel"], params=teacher.parse_params(data["params"])
        )
        return Response(
            {
                "image": image.pk,
                "objects": preview.objects,
                "params": preview.params.to_dict(),
                "overlay": "data:image/png;base64," + base64.b64encode(preview.png).decode("ascii"),
            }
        )


class TeacherApply(APIView):
    @extend_schema(request=TeacherApplyIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_id: int) -> Response:
        """Make teacher pseudo-masks for all (or the listed) images on a worker (202); progress on
        the socket as teacher.progress, then teacher.finished."""
        project = project_for(request.user, project_id, needs=Role.ANNOTATOR)
        data = valid_input(TeacherApplyIn, request.data)
        job = teacher.teacher_apply_start(
            project=project,
            author=request.user,
            channel=data["channel"],
            params=teacher.parse_params(data["params"]),
            class_index=data["class_index"],
            image_ids=data["images"],
        )
        return Response({"job": job.job, "total": job.total}, status=202)


class TeacherExclude(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Drop the image's teacher pseudo-mask and leave the image out of later applies."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        head = teacher.teacher_exclude(image=image, author=request.user)
        return Response({"image": image.pk, "state": "excluded", "version": head.version})


class TeacherInclude(APIView):
    @extend_schema(request=TeacherIn, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Bring an excluded image back: its teacher pseudo-mask is made again with these settings."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        data = valid_input(TeacherIn, request.data)
        head = teacher.teacher_include(
            image=image,
            author=request.user,
            channel=data["channel"],
            params=teacher.parse_params(data["params"]),
            class_index=data["class_index"],
        )
        return Response({"image": image.pk, "state": "teacher", "version": head.version})


# Guided labelling ---------------------------------------------------------------------------


class NextImage(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("after", int, required=False, description="the image open now")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_id: int) -> Response:
        """The image that most needs labels (training/features/guidance.py), walking on from `after`,
        and why."""
        project = project_for(request.user, project_id)
        suggestion = guidance.next_image(
            project=project, after=_image_of(project, request, "after"), user_id=request.user.pk
        )
        image = None
        if suggestion.image is not None:
            image = selectors.with_label_state(selectors.images_of(project)).get(pk=suggestion.image)
        return Response(
            {
                "image": ImageOut(image).data if image is not None else None,
                "reason": suggestion.reason,
                "model_version": suggestion.model_version,
                "rank": suggestion.rank,
                "of": suggestion.of,
                "uncertainty": suggestion.uncertainty,
                "has_labels": suggestion.has_labels,
                "assigned": suggestion.assigned,
            }
        )


def _image_of(project: Any, request: Request, name: str) -> int | None:
    """The image id a query parameter names: None when absent, 400 unless an image of the project."""
    image = query_int(request, name)
    if image is not None and not selectors.images_of(project).filter(pk=image).exists():
        raise ValidationError({name: f"{image} is not the id of an image of this project."})
    return image


class UncertaintyRanking(APIView):
    @extend_schema(responses={200: RankedImageOut(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        """The images outside the validation split, in the order guided labelling offers them."""
        ranking = guidance.uncertainty_ranking(project=project_for(request.user, project_id))
        version = ranking.model_version.pk if ranking.model_version else None
        return Response(
            [
                {
                    "rank": rank,
                    "image": entry.image,
                    "name": entry.name,
                    "uncertainty": entry.uncertainty,
                    "model_version": version if entry.scored else None,
                    "has_labels": entry.has_labels,
                }
                for rank, entry in enumerate(ranking.images, start=1)
            ]
        )


class ModelVersionRetrain(APIView):
    @extend_schema(request=None, responses={201: TrainingRunOut})
    def post(self, request: Request, version_id: int) -> Response:
        """Correct-and-retrain: a run warm-started from this version, with its run's options, on
        the labels as they are now (managers; 400 and nothing created for a non-segmentation one)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        run = guidance.version_retrain(version=version, user=request.user)
        return Response(TrainingRunOut(run).data, status=201)


# Label-efficiency studies -------------------------------------------------------------------


class StudyList(generics.ListAPIView[Study]):
    serializer_class = StudyOut

    def get_queryset(self) -> QuerySet[Study]:
        return swept_list(Study, self.request, self.kwargs["project_id"])

    @extend_schema(request=StudyIn, responses={201: StudyOut})
    def post(self, request: Request, project_id: int) -> Response:
        """Start a study: the same run on the first 1, 2, 4, ... labelled images, smallest first."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        options = valid_input(StudyIn, request.data)["config"]
        created = study.study_create(project=project, user=request.user, options=options)
        return Response(StudyOut(created).data, status=201)


class StudyPlan(APIView):
    @extend_schema(parameters=[StudyPlanIn], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The sizes a study would train with the labels there are now (400 and why if none)."""
        project = project_for(request.user, project_id)
        plan = study.study_plan(project=project, options=valid_input(StudyPlanIn, request.query_params))
        return Response(asdict(plan))


class StudyDetail(APIView):
    serializer_class = StudyOut

    def get(self, request: Request, study_id: int) -> Response:
        """The study's points so far (size, run, state, pixel F1) and the last doubling's gain."""
        return Response(StudyOut(swept_one(Study, request, study_id)).data)


class StudyCancel(APIView):
    @extend_schema(request=None, responses={200: StudyOut})
    def post(self, request: Request, study_id: int) -> Response:
        """Cancel the study's unfinished runs (409 if it has already ended)."""
        found = in_project_for(Study, request.user, study_id, needs=Role.MANAGER)
        return Response(StudyOut(study.study_cancel(study=found)).data)

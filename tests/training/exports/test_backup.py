"""export_project --full -> import_project on "another installation": the same images, revisions
(versions, authors, times, data, label maps) and review history; damaged and unsafe zips are
refused with nothing stored."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from labeling import selectors, services
from labeling.models import Annotation, AnnotationRevision, Image, Project, SourceFile, StatusChange


def backup(project: Project, tmp_path: Path) -> Path:
    output = tmp_path / "backup.zip"
    call_command("export_project", project.name, "--full", "--output", str(output))
    return output


def history(project: Project) -> list[tuple[Any, ...]]:
    """Every revision of the project's layers, as it can be compared across installations."""
    rows = AnnotationRevision.objects.filter(annotation__image__project=project).order_by(
        "annotation__image__name", "annotation__kind", "annotation__key", "version"
    )
    return [
        (
            r.annotation.image.name,
            r.annotation.kind,
            r.annotation.label_class.name if r.annotation.label_class else r.annotation.key,
            r.version,
            r.author.username,
            r.created_at,
            r.data,
            r.is_deleted,
            r.mask.read() if r.mask else None,
            r.instances.read() if r.instances else None,
        )
        for r in rows
    ]


def restored_named(name: str) -> Project:
    return Project.objects.get(name=name)


def test_a_backup_restores_the_images_revisions_and_review_history(labelled, users, tmp_path):
    project = labelled.project
    d0, d1, _ = labelled.images
    head = Annotation.objects.get(image=d0, kind="dense")
    stroke = {"class_index": 1, "radius": 3.0, "points": [[5, 5], [20, 5]]}
    services.annotation_save(
        image=d0, author=users["manager"], kind="dense", base_version=head.version, data={"strokes": [stroke]}
    )
    services.image_move(image=d1, user=users["annotator"], move="submit")
    before = history(project)
    path = backup(project, tmp_path)

    call_command("import_project", str(path), "--name", "Nuclei moved")

    moved = restored_named("Nuclei moved")
    assert history(moved) == before
    assert [(m.user.username, m.role) for m in moved.memberships.order_by("user__username")] == [
        (m.user.username, m.role) for m in project.memberships.order_by("user__username")
    ]
    for old in Image.objects.filter(project=project):
        new = Image.objects.get(project=moved, name=old.name)
        assert new.created_at == old.created_at and new.split == old.split
        assert np.array_equal(selectors.all_planes(new)["gray"], selectors.all_planes(old)["gray"])
        old_map, new_map = selectors.human_label_map(old), selectors.human_label_map(new)
        assert (old_map is None and new_map is None) or np.array_equal(old_map, new_map)
        assert new.channels.get().display  # renditions made again
    original = SourceFile.objects.filter(image__project=project).order_by("image__name").first()
    copy = SourceFile.objects.filter(image__project=moved).order_by("image__name").first()
    assert copy.file.read() == original.file.read() and copy.sha256 == original.sha256
    changes = StatusChange.objects.filter(image__project=moved).values_list(
        "image__name", "status", "by__username", "at"
    )
    assert list(changes) == list(
        StatusChange.objects.filter(image__project=project).values_list(
            "image__name", "status", "by__username", "at"
        )
    )
    assert moved.images.get(name="d1").work.status == "submitted"


def test_users_another_installation_lacks_are_named_or_made_on_request(labelled, tmp_path):
    path = backup(labelled.project, tmp_path)
    get_user_model().objects.filter(username="annotator").update(username="someone-else")

    with pytest.raises(CommandError, match="no user annotator"):
        call_command("import_project", str(path), "--name", "Moved")
    assert not Project.objects.filter(name="Moved").exists()

    call_command("import_project", str(path), "--name", "Moved", "--create-users")
    made = get_user_model().objects.get(username="annotator")
    assert not made.is_active and not made.has_usable_password()
    assert AnnotationRevision.objects.filter(annotation__image__project__name="Moved", author=made).exists()


def rezip(path: Path, edit: Any) -> Path:
    """A copy of the backup whose members pass through `edit(name, data) -> [(name, data)]`."""
    target = path.with_name("edited.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            for new_name, data in edit(name, source.read(name)):
                out.writestr(new_name, data)
    return target


def nothing_more_stored(before_files: set[Path], media: Path) -> None:
    assert Project.objects.count() == 1 and Image.objects.count() == 3
    assert set(media.rglob("*")) == before_files


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
            "not a readable zip",
        ),
        (lambda path: path.write_bytes(b"not a zip at all"), "not a readable zip"),
        (
            lambda path: rezip(path, lambda n, d: [("../" + n if n.startswith("originals/") else n, d)]),
            "outside",
        ),
        (
            lambda path: rezip(path, lambda n, d: [] if n.startswith("labelmaps/") else [(n, d)]),
            "backup.json",
        ),
        (
            lambda path: rezip(path, lambda n, d: [] if n == "backup.json" else [(n, d)]),
            "not a project backup",
        ),
    ],
)
def test_a_damaged_or_unsafe_backup_is_refused_and_nothing_is_stored(
    labelled, tmp_path, settings, damage, message
):
    path = backup(labelled.project, tmp_path)
    edited = damage(path)
    damaged = edited if isinstance(edited, Path) else path
    media = Path(settings.MEDIA_ROOT)
    before_files = set(media.rglob("*"))

    with pytest.raises(CommandError, match=message):
        call_command("import_project", str(damaged), "--name", "Broken")

    nothing_more_stored(before_files, media)


def test_a_member_damaged_inside_a_readable_zip_rolls_everything_back(labelled, tmp_path, settings):
    path = backup(labelled.project, tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zipped:
        info = [i for i in zipped.infolist() if i.filename.startswith("labelmaps/")][-1]
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    data[start + 10] ^= 0xFF  # one byte of the member's data: its CRC no longer matches
    path.write_bytes(bytes(data))
    media = Path(settings.MEDIA_ROOT)
    before_files = set(media.rglob("*"))

    with pytest.raises(CommandError, match="damaged"):
        call_command("import_project", str(path), "--name", "Broken")

    nothing_more_stored(before_files, media)

"""The training page's pretrain strategy and transfer from another project, in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from labeling import services
from labeling.models import Role
from tests.live.test_teacher import add_fields
from training.models import ModelVersion, TrainingRun


def test_a_pretraining_run_is_started_from_the_form_and_other_projects_versions_are_offered(
    signed_in, users, project
):
    add_fields(project, users["owner"], stained=2)
    other = services.project_create(name="Other lab", owner=users["owner"], description="")
    services.membership_set(project=other, user=users["manager"], role=Role.VIEWER)
    done = TrainingRun.objects.create(project=other, created_by=users["owner"], config={}, state="succeeded")
    encoder = ModelVersion.objects.create(project=other, run=done, kind="encoder", weights="models/e.pt")

    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}/training")
    form = page.get_by_test_id("run-form")
    # Another project's encoder is offered as a starting point, named with its project.
    warm = page.get_by_test_id("warm-start")
    expect(warm.locator("optgroup[label='Other lab'] option")).to_have_text(
        f"model v{encoder.pk} (encoder) of Other lab"
    )

    options = page.get_by_test_id("pretrain-options")
    expect(options).to_be_hidden()
    form.locator('select[name="strategy"]').select_option("pretrain")
    expect(options).to_be_visible()
    expect(form.get_by_text("Labels to learn from")).to_be_hidden()  # pretraining needs none
    expect(form.locator('input[name="freeze_encoder"]')).to_be_hidden()  # it trains the encoder
    expect(form.locator('input[name="test_time_augmentation"]')).to_be_hidden()  # it scores nothing
    form.locator('select[name="task"]').select_option("fluorescence")
    expect(form.locator('input[name="target_channel"]')).to_have_value("fluorescence")
    tiny = {"epochs": "2", "steps_per_epoch": "10", "patch_size": "64", "batch_size": "4"}
    for name, value in tiny.items():
        form.locator(f'input[name="{name}"]').fill(value)
    form.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("is queued.")).to_be_visible()

    run = TrainingRun.objects.get(project=project)
    strategy = run.config["strategy"]
    assert strategy["name"] == "pretrain" and strategy["target_channels"] == ["fluorescence"]
    assert strategy["pretrain"]["task"] == "fluorescence" and strategy["pretrain"]["steps"] == 20
    assert run.config["channels"] == ["brightfield"] and run.label_snapshot == []

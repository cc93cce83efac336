"""Objects and measurements of one image, on generated images with hand-computed answers."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from torch import nn

from training.ml.measure import SHAPE_COLUMNS, count_objects, measure, objects_of_instances
from training.predict import pipeline
from training.runs.spec import VersionInputs


def disc(shape: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


class Threshold(nn.Module):
    """A "network" that calls class 1 wherever the normalised input is above one half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([10 - 20 * x, 20 * x - 10], dim=1)


def rectangle_image() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Class 2 (countable) on rows 2..5 and columns 3..8 (4 x 6 = 24 px), class 3 elsewhere in a
    corner; channel "ramp" is each pixel's column, channel "flat" is 100."""
    label_map = np.ones((20, 30), dtype=np.uint16)
    label_map[2:6, 3:9] = 2
    label_map[15:, 25:] = 3
    ramp = np.tile(np.arange(30, dtype=np.uint16), (20, 1))
    flat = np.full((20, 30), 100, dtype=np.uint8)
    return label_map, {"ramp": ramp, "flat": flat}


def test_measurements_match_the_hand_computed_area_centroid_and_intensities():
    label_map, planes = rectangle_image()
    objects = count_objects(label_map, [2], min_size=1)
    assert objects.counts == {2: 1}
    table = measure(objects, planes, class_names={2: "nucleus"}, pixel_size=(0.5, 0.25))
    (row,) = [dict(zip(table.columns, values, strict=True)) for values in table.rows]
    assert row["label"] == 1 and row["class_index"] == 2 and row["class"] == "nucleus"
    assert row["area_px"] == 24
    assert row["area_um2"] == pytest.approx(24 * 0.5 * 0.25)
    assert (row["centroid_x"], row["centroid_y"]) == (pytest.approx(5.5), pytest.approx(3.5))
    assert (row["bbox_min_x"], row["bbox_min_y"], row["bbox_max_x"], row["bbox_max_y"]) == (3, 2, 9, 6)
    assert row["mean_intensity_ramp"] == pytest.approx(5.5)  # columns 3..8
    assert row["integrated_intensity_ramp"] == pytest.approx(24 * 5.5)
    assert row["mean_intensity_flat"] == pytest.approx(100)
    assert row["integrated_intensity_flat"] == pytest.approx(2400)
    assert row["solidity"] == pytest.approx(1.0)
    # Inertia along x: (6^2 - 1) / 12, along y: (4^2 - 1) / 12.
    assert row["eccentricity"] == pytest.approx(np.sqrt(1 - 15 / 35), abs=1e-3)


def test_without_a_pixel_size_there_is_no_area_in_square_micrometres():
    label_map, planes = rectangle_image()
    table = measure(count_objects(label_map, [2], min_size=1), planes, class_names={})
    assert table.rows[0][table.columns.index("area_um2")] is None


def test_two_touching_discs_are_counted_as_two_objects_and_other_classes_not_at_all():
    label_map = np.ones((40, 60), dtype=np.uint16)
    label_map[disc((40, 60), (20, 20), 10) | disc((40, 60), (20, 38), 10)] = 2
    label_map[:3, :3] = 3
    objects = count_objects(label_map, [2])
    assert objects.counts == {2: 2} and objects.count == 2
    assert set(np.unique(objects.instances)) == {0, 1, 2}
    assert ((objects.instances > 0) == (label_map == 2)).all()
    assert objects.classes.tolist() == [0, 2, 2]


def test_objects_of_two_countable_classes_are_numbered_one_after_the_other():
    label_map = np.ones((30, 60), dtype=np.uint16)
    label_map[disc((30, 60), (15, 12), 6)] = 2
    label_map[disc((30, 60), (15, 45), 6)] = 3
    objects = count_objects(label_map, [3, 2])
    assert objects.counts == {2: 1, 3: 1}
    assert objects.instances[15, 12] == 1 and objects.instances[15, 45] == 2
    assert objects.classes.tolist() == [0, 2, 3]


def test_a_stored_instance_map_keeps_its_objects_and_takes_each_ones_majority_class():
    label_map = np.ones((10, 10), dtype=np.uint16)
    label_map[0:4, 0:4] = 2
    label_map[0, 0] = 1  # one stray pixel of another class does not change the object's class
    label_map[6:9, 6:9] = 3  # not countable: its object is left out
    instances = np.zeros((10, 10), dtype=np.uint16)
    instances[0:4, 0:4] = 7
    instances[6:9, 6:9] = 9
    objects = objects_of_instances(instances, label_map, [2])
    assert objects.counts == {2: 1}
    assert objects.classes.tolist() == [0, 2]
    assert set(np.unique(objects.instances)) == {0, 1} and objects.instances[1, 1] == 1


def test_the_pipeline_predicts_splits_and_measures_an_image():
    image = np.zeros((40, 60), dtype=np.uint8)
    image[disc((40, 60), (20, 20), 10) | disc((40, 60), (20, 38), 10)] = 255
    context = pipeline.Context(
        inputs=VersionInputs(
            channels=("gray",), classes=(1, 2), ranges=[(0.0, 255.0)], test_time_augmentation=False
        ),
        countable=(2,),
        class_names={1: "background", 2: "nucleus"},
        tile=128,
    )
    result = pipeline.analyse(Threshold(), {"gray": image}, context, device=torch.device("cpu"))
    assert (result.label_map == np.where(image > 0, 2, 1)).all()
    assert result.objects.counts == {2: 2}
    assert len(result.table.rows) == 2
    xs = sorted(row[result.table.columns.index("centroid_x")] for row in result.table.rows)
    assert xs[0] + xs[1] == pytest.approx(58, abs=0.5)  # the split is symmetric about x = 29
    encoded = pipeline.encode(result, countable=True)
    assert encoded.instances is not None and encoded.instances_suffix == ".png"
    assert (pipeline.decode_instances(encoded.instances) == result.objects.instances).all()
    assert pipeline.table_from_json(encoded.measurements) == result.table


def test_an_image_without_the_models_channel_is_refused_with_what_it_has():
    context = pipeline.Context(
        inputs=VersionInputs(channels=("dapi",), classes=(1, 2), ranges=None, test_time_augmentation=False),
        countable=(),
        class_names={},
    )
    with pytest.raises(ValueError, match=r"reads the channels dapi; this image has no dapi \(it has gray\)"):
        pipeline.analyse(
            Threshold(), {"gray": np.zeros((8, 8), np.uint8)}, context, device=torch.device("cpu")
        )


def test_instance_maps_past_65535_objects_are_written_as_32_bit_tiff():
    instances = np.arange(70_000, dtype=np.uint32).reshape(280, 250)
    data, suffix = pipeline.encode_instances(instances)
    assert suffix == ".tif"
    assert (pipeline.decode_instances(data) == instances).all()


def test_csv_has_a_header_and_one_line_per_row():
    text = "".join(
        pipeline.csv_lines(["image", *SHAPE_COLUMNS], [{"image": "a.png", "label": 1}, {"label": 2}])
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["image", *SHAPE_COLUMNS]
    assert len(rows) == 3 and rows[1][:2] == ["a.png", "1"] and rows[2][:2] == ["", "2"]

"""ObjectRecallBySize: a hand-made instance map with a known answer, and equal-count bins."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.errors import DsbenchError
from benchmark.metrics import ObjectRecallBySize, equal_count_bins, recall_by_size

CAR, PERSON, CARAVAN = 26, 24, 29          # Cityscapes labelIds
CAR_T, PERSON_T, ROAD_T = 13, 11, 0        # their trainIds (caravan is ignored in evaluation)


def hand_made_scene():
    """4x6 scene: car #0 (4 px, one ignore), car #1 (2 px), person #0 (6 px), a caravan, road."""
    inst = np.full((4, 6), 7, dtype=np.int64)        # stuff: road labelId 7
    labels = np.full((4, 6), ROAD_T, dtype=np.int64)
    inst[0, 0:4] = CAR * 1000 + 0
    inst[1, 0:2] = CAR * 1000 + 1
    inst[1:3, 2:5] = PERSON * 1000 + 0
    inst[3, 0:2] = CARAVAN * 1000 + 0
    labels[inst // 1000 == CAR] = CAR_T
    labels[inst // 1000 == PERSON] = PERSON_T
    labels[inst // 1000 == CARAVAN] = 255
    labels[0, 3] = 255                                # one car pixel unlabelled -> excluded
    pred = labels.copy()
    pred[labels == 255] = CAR_T
    pred[0, 0] = PERSON_T                             # car #0: 2 of 3 valid pixels right
    pred[1, 0:2] = ROAD_T                             # car #1: 0 of 2
    pred[1, 2] = CAR_T                                # person: 5 of 6
    return pred, labels, inst


def test_known_answer_on_hand_made_map():
    pred, labels, inst = hand_made_scene()
    recall = ObjectRecallBySize(19)
    recall.process(torch.from_numpy(pred), torch.from_numpy(labels), torch.from_numpy(inst))
    table = sorted(map(tuple, recall.table.tolist()))
    assert table == sorted([(CAR_T, 3, 2), (CAR_T, 2, 0), (PERSON_T, 6, 5)])  # caravan skipped
    res = recall.evaluate(n_bins=2)
    np.testing.assert_allclose(res["per_class"][CAR_T], [0.0, 2 / 3])      # small car first
    assert res["per_class"][PERSON_T][0] == pytest.approx(5 / 6) and math.isnan(res["per_class"][PERSON_T][1])
    # "all" bins the three instances by area (2, 3 | 6): split 2 + 1.
    np.testing.assert_allclose(res["all"], [(0.0 + 2 / 3) / 2, 5 / 6])
    assert res["instances"] == {CAR_T: 2, PERSON_T: 1}


def test_instances_are_per_image():
    pred, labels, inst = hand_made_scene()
    recall = ObjectRecallBySize(19)
    recall.process(np.stack([pred, pred]), np.stack([labels, labels]), np.stack([inst, inst]))
    assert recall.table.shape == (6, 3)
    recall.reset()
    assert recall.table.shape == (0, 3)


def test_equal_count_bins():
    areas = np.array([50, 10, 30, 20, 90, 70, 40, 80, 60])
    bins = equal_count_bins(areas, 4)
    assert np.bincount(bins).tolist() == [3, 2, 2, 2]
    # Bins are ordered by area: every area in bin b is <= every area in bin b+1.
    for b in range(3):
        assert areas[bins == b].max() <= areas[bins == b + 1].min()
    # Ties split by arrival order, still equal counts.
    assert np.bincount(equal_count_bins(np.full(8, 5), 4)).tolist() == [2, 2, 2, 2]
    # Per class: correct = area - 10, so recall = 1 - 10/area; bins take the sorted areas 3, 2, 2, 2.
    table = np.stack([np.full(9, 3), areas, areas - 10], axis=1)
    res = recall_by_size(table, 4)
    ordered = np.sort(areas)
    expected = [np.mean(1 - 10 / ordered[s]) for s in (slice(0, 3), slice(3, 5), slice(5, 7), slice(7, 9))]
    np.testing.assert_allclose(res["per_class"][3], expected)
    np.testing.assert_allclose(res["all"], expected)  # one class: pooled bins are the same


def test_bad_instance_maps_raise():
    recall = ObjectRecallBySize(19)
    labels = np.zeros((2, 2), np.int64)
    with pytest.raises(DsbenchError, match="labelId"):
        recall.process(labels, labels, np.full((2, 2), 99_000))
    with pytest.raises(DsbenchError, match="instance"):
        recall.process(labels, labels, None)
    with pytest.raises(DsbenchError, match="shape"):
        recall.process(labels, labels, np.zeros((3, 2), np.int64))

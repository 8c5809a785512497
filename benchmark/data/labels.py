"""Cityscapes label conventions, taken from the official ``cityscapesscripts`` table.

* ``labelId``: the 34 fine annotation ids (0 'unlabeled' ... 33 'bicycle') stored in
  ``*_gtFine_labelIds.png``.
* ``trainId``: the 19 evaluation classes 0..18 stored in ``*_gtFine_labelTrainIds.png``; every
  other labelId maps to the ignore value 255.
* ``instanceIds``: ``labelId * 1000 + k`` for pixels of an instance class (person, car, ...),
  plain ``labelId`` for everything else.

Nothing here is hand-typed: names, ids and colours come from
``cityscapesscripts.helpers.labels`` so the official tools read our files unchanged.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

IGNORE_INDEX = 255
NUM_CLASSES = 19

_TRAIN_LABELS = sorted((l for l in _CS_LABELS if 0 <= l.trainId < IGNORE_INDEX), key=lambda l: l.trainId)
assert [l.trainId for l in _TRAIN_LABELS] == list(range(NUM_CLASSES))

#: The 19 evaluation class names in trainId order.
CLASS_NAMES: Tuple[str, ...] = tuple(l.name for l in _TRAIN_LABELS)
#: RGB colour per trainId (official Cityscapes palette).
COLORS: Tuple[Tuple[int, int, int], ...] = tuple(tuple(l.color) for l in _TRAIN_LABELS)
#: name -> labelId and name -> trainId for every official label with a non-negative id.
LABEL_ID: Dict[str, int] = {l.name: l.id for l in _CS_LABELS if l.id >= 0}
TRAIN_ID: Dict[str, int] = {l.name: l.trainId for l in _TRAIN_LABELS}
#: labelIds whose pixels carry instance codes labelId*1000+k in instanceIds maps.
INSTANCE_LABEL_IDS: Tuple[int, ...] = tuple(sorted(l.id for l in _CS_LABELS if l.hasInstances and l.id >= 0))


def _label_id_to_train_id() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in _CS_LABELS:
        if label.id >= 0:
            lut[label.id] = label.trainId if 0 <= label.trainId < IGNORE_INDEX else IGNORE_INDEX
    return lut


#: uint8 lookup table labelId -> trainId (unmapped labelIds -> 255); index with a uint8 array.
LABEL_ID_TO_TRAIN_ID: np.ndarray = _label_id_to_train_id()
LABEL_ID_TO_TRAIN_ID.setflags(write=False)

#: boolean tables over 0..255: which values may appear in a labelIds / trainIds PNG.
VALID_LABEL_IDS: np.ndarray = np.zeros(256, dtype=bool)
VALID_LABEL_IDS[[l.id for l in _CS_LABELS if l.id >= 0]] = True
VALID_LABEL_IDS.setflags(write=False)
VALID_TRAIN_IDS: np.ndarray = np.zeros(256, dtype=bool)
VALID_TRAIN_IDS[list(range(NUM_CLASSES)) + [IGNORE_INDEX]] = True
VALID_TRAIN_IDS.setflags(write=False)

"""The shapes data set: exact rasterization, exact boxes and masks, determinism, and COCO JSON that
pycocotools reads back to the same masks, boxes and areas.

Rasterization is checked on hand-drawn grids of a few pixels; the generated sets are checked
against independent recomputations (tight boxes by np.nonzero, the unoccluded shapes re-drawn from
the stored geometry, their pixel counts against the continuous areas) and against pycocotools.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from deepkata.core.errors import ConfigError
from deepkata.detection.shapes import (
    CIRCLE,
    CLASSES,
    SQUARE,
    TRIANGLE,
    Shapes,
    ShapesConfig,
    disc_mask,
    make_shapes,
    make_splits,
    polygon_mask,
    rle_decode,
    rle_encode,
    shape_mask,
    shape_vertices,
    to_coco,
    write_coco,
)

# pycocotools 2.0.11's mask.decode trips NumPy 2's __array__(copy=...) deprecation on every call: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

N_IMAGES = 40
SEED = 7


def grid(rows: str) -> np.ndarray:
    """A bool mask from lines of '#' (inside) and '.' (outside)."""
    return np.array([[c == "#" for c in line] for line in rows.split()], dtype=bool)


@pytest.fixture(scope="module")
def shapes() -> Shapes:
    return make_shapes(N_IMAGES, SEED)


@pytest.fixture(scope="module")
def clean() -> Shapes:
    """No noise, so every shape is one flat colour."""
    return make_shapes(N_IMAGES, SEED + 1, ShapesConfig(noise=0.0))


# --- rasterization by hand ------------------------------------------------------------------


def test_disc_by_hand():
    # centres at 0.5..3.5, about (2, 2): dx^2 + dy^2 is 0.5 (inner 4), 2.5 (edge 8) or 4.5 (corners)
    assert np.array_equal(disc_mask(2.0, 2.0, 1.5, 4, 4), grid(".... .##. .##. ...."))
    assert np.array_equal(disc_mask(2.0, 2.0, 1.6, 4, 4), grid(".##. #### #### .##."))
    # a centre exactly on the circle is inside; the disc is clipped at the image's edge
    assert np.array_equal(disc_mask(0.5, 0.5, 1.0, 3, 3), grid("##. #.. ..."))


def test_polygons_by_hand():
    # x + y <= 4 at centres (j + 0.5, i + 0.5): i + j <= 3, the anti-diagonal's centres on the edge
    want = grid("#### ###. ##.. #...")
    assert np.array_equal(polygon_mask([(0, 0), (4, 0), (0, 4)], 4, 4), want)
    assert np.array_equal(polygon_mask([(0, 4), (4, 0), (0, 0)], 4, 4), want)  # the other orientation
    assert np.array_equal(polygon_mask([(1, 1), (3, 1), (3, 3), (1, 3)], 4, 4), grid(".... .##. .##. ...."))
    # a triangle reaching outside the grid, y >= 2 |x - 2|: |x - 2| <= 0.25, 0.75, 1.25, 1.75 on rows 0..3
    assert np.array_equal(polygon_mask([(2, 0), (6, 8), (-2, 8)], 4, 4), grid(".... .##. .##. ####"))


def test_shape_geometry():
    # theta = 0: the triangle's apex straight up (y down), the square's sides along the axes
    apex = shape_vertices(TRIANGLE, 10.0, 20.0, 4.0, 0.0)
    assert np.allclose(apex[0], (10.0, 16.0), atol=1e-12)
    side = np.linalg.norm(apex[1] - apex[0])
    assert side == pytest.approx(4.0 * math.sqrt(3), rel=1e-12)  # equilateral, circumradius 4
    square = shape_vertices(SQUARE, 5.0, 5.0, 2 * math.sqrt(2), 0.0)
    assert np.allclose(sorted(map(tuple, square.round(9))), [(3, 3), (3, 7), (7, 3), (7, 7)])
    want = np.zeros((10, 10), dtype=bool)
    want[3:7, 3:7] = True
    assert np.array_equal(shape_mask(SQUARE, (5.0, 5.0, 2 * math.sqrt(2), 0.0), 10, 10), want)
    # turned by pi/4 the same square is a diamond |x - 5| + |y - 5| <= 2 sqrt(2)
    diamond = shape_mask(SQUARE, (5.0, 5.0, 2 * math.sqrt(2), math.pi / 4), 10, 10)
    x = np.arange(10) + 0.5
    assert np.array_equal(diamond, np.abs(x[None] - 5) + np.abs(x[:, None] - 5) <= 2 * math.sqrt(2))
    assert np.array_equal(shape_mask(CIRCLE, (4.2, 3.7, 2.5, 1.0), 9, 8), disc_mask(4.2, 3.7, 2.5, 9, 8))


# --- the generated sets ---------------------------------------------------------------------


def assert_same(a: Shapes, b: Shapes) -> None:
    assert a.images.dtype == torch.uint8 and torch.equal(a.images, b.images)
    assert torch.equal(a.semantic, b.semantic) and torch.equal(a.instances, b.instances)
    for name in ("boxes", "labels", "geometry"):
        assert all(torch.equal(x, y) for x, y in zip(getattr(a, name), getattr(b, name), strict=True))


def test_same_seed_same_bytes_and_prefixes(shapes: Shapes):
    assert_same(make_shapes(N_IMAGES, SEED), shapes)
    # image i has its own stream: the first 5 images do not depend on how many follow
    short = make_shapes(5, SEED)
    assert torch.equal(short.images, shapes.images[:5]) and torch.equal(short.instances, shapes.instances[:5])
    assert all(torch.equal(x, y) for x, y in zip(short.geometry, shapes.geometry[:5]))
    other = make_shapes(5, SEED + 100)
    assert all(not torch.equal(x, y) for x, y in zip(other.images, short.images))
    assert all(not torch.equal(x, y) for x, y in zip(make_shapes(5, SEED, stream=1).images, short.images))


def test_types_and_dataset_items(shapes: Shapes):
    size = shapes.cfg.size
    assert len(shapes) == N_IMAGES and shapes.images.shape == (N_IMAGES, 3, size, size)
    assert shapes.semantic.dtype == torch.uint8 and shapes.semantic.shape == (N_IMAGES, size, size)
    image, target = shapes[3]
    n = shapes.labels[3].shape[0]
    assert torch.equal(image, shapes.images[3])
    assert target["boxes"].dtype == torch.float32 and target["boxes"].shape == (n, 4)
    assert target["labels"].dtype == torch.int64 and target["labels"].shape == (n,)
    assert target["masks"].dtype == torch.bool and target["masks"].shape == (n, size, size)
    assert torch.equal(target["semantic"], shapes.semantic[3])


def test_counts_and_classes(shapes: Shapes):
    counts = [len(labels) for labels in shapes.labels]
    assert min(counts) >= 1 and max(counts) <= 6
    assert len(set(counts)) >= 4  # the count varies
    labels = torch.cat(shapes.labels)
    assert set(labels.tolist()) == {1, 2, 3} and len(CLASSES) == 3
    few = make_shapes(12, 3, ShapesConfig(size=64, min_objects=2, max_objects=3, min_side=8, max_side=20))
    assert {len(labels) for labels in few.labels} == {2, 3}
    assert few.images.shape == (12, 3, 64, 64)


def test_boxes_are_the_tight_boxes_of_the_visible_masks(shapes: Shapes):
    for i in range(N_IMAGES):
        masks = shapes.masks(i).numpy()
        want = []
        for mask in masks:
            rows, cols = np.nonzero(mask)
            want.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        assert shapes.boxes[i].dtype == torch.float32
        assert np.array_equal(shapes.boxes[i].numpy(), np.array(want, dtype=np.float32))


def test_masks_are_disjoint_and_make_the_semantic_mask(shapes: Shapes):
    for i in range(N_IMAGES):
        masks, labels, semantic = shapes.masks(i).numpy(), shapes.labels[i].numpy(), shapes.semantic[i].numpy()
        assert masks.any(axis=(1, 2)).all()  # no object is hidden entirely
        assert masks.sum(axis=0).max() == 1  # disjoint
        assert np.array_equal(masks.any(axis=0), semantic != 0)
        for mask, label in zip(masks, labels):
            assert np.all(semantic[mask] == label)
        assert np.array_equal(shapes.instances[i].numpy() >= 0, semantic != 0)


def test_occlusion_leaves_each_shape_min_visible(shapes: Shapes):
    cfg, size = shapes.cfg, shapes.cfg.size
    occluded = 0
    for i in range(N_IMAGES):
        masks = shapes.masks(i).numpy()
        for k, (label, geometry) in enumerate(zip(shapes.labels[i].tolist(), shapes.geometry[i].numpy())):
            full = shape_mask(label, geometry, size, size)
            visible = masks[k]
            assert not np.any(visible & ~full)  # what shows is part of the shape
            assert visible.sum() >= cfg.min_visible * full.sum()
            occluded += int(visible.sum() < full.sum())
            if k == len(masks) - 1:
                assert np.array_equal(visible, full)  # the top shape is whole
            # the whole shape lies inside the image, so its pixels count its area up to the boundary's pixels
            cx, cy, r, _ = geometry
            area, perimeter = {CIRCLE: (math.pi * r * r, 2 * math.pi * r),
                               SQUARE: (2 * r * r, 4 * math.sqrt(2) * r),
                               TRIANGLE: (3 * math.sqrt(3) / 4 * r * r, 3 * math.sqrt(3) * r)}[label]
            assert abs(full.sum() - area) <= perimeter
            # its bounding size is in [min_side, max_side], up to a pixel either side
            rows, cols = np.nonzero(full)
            side = max(cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min())
            assert cfg.min_side - 1 <= side <= cfg.max_side + 1
    assert occluded >= 5  # shapes do overlap


def test_flat_colours_contrast(clean: Shapes):
    least = clean.cfg.min_contrast
    for i in range(N_IMAGES):
        image = clean.images[i].numpy().astype(np.float64)  # (3, H, W)
        masks, instances = clean.masks(i).numpy(), clean.instances[i].numpy()
        background = image[:, instances < 0]
        assert np.all(background == background[:, :1])  # one flat colour
        colours = []
        for mask in masks:
            pixels = image[:, mask]
            assert np.all(pixels == pixels[:, :1])
            colours.append(pixels[:, 0])
            assert np.linalg.norm(colours[-1] - background[:, 0]) >= least
        # a shape differs by min_contrast from every earlier shape still visible in its box
        for b in range(len(masks)):
            full = shape_mask(int(clean.labels[i][b]), clean.geometry[i][b].numpy(), *instances.shape)
            rows, cols = np.nonzero(full)
            box = instances[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            for a in set(box[(box >= 0) & (box < b)].tolist()):
                assert np.linalg.norm(colours[a] - colours[b]) >= least


def test_splits_are_independent_streams():
    splits = make_splits(5, train=6, val=3, test=3, cfg=ShapesConfig(size=48, max_side=24))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 3, 3)
    assert_same(splits.train, make_shapes(6, 5, ShapesConfig(size=48, max_side=24)))
    images = [bytes(im.numpy()) for part in (splits.train, splits.val, splits.test) for im in part.images]
    assert len(set(images)) == 12


def test_config_checks():
    with pytest.raises(ConfigError, match="min_objects"):
        ShapesConfig(min_objects=5, max_objects=2)
    with pytest.raises(ConfigError, match="max_side"):
        ShapesConfig(size=32)
    with pytest.raises(ConfigError, match="min_visible"):
        ShapesConfig(min_visible=0.0)
    # two shapes filling a 16 x 16 image cannot both stay wholly visible
    tight = ShapesConfig(size=16, min_side=16, max_side=16, min_objects=2, min_visible=1.0, max_tries=1)
    with pytest.raises(ConfigError, match="could not place"):
        make_shapes(1, 0, tight)


# --- COCO -----------------------------------------------------------------------------------


def test_rle_by_hand():
    # column-major: first column 1, 1, then 0, 1: runs of 0 zeros, 2 ones, 1 zero, 1 one
    mask = np.array([[1, 0], [1, 1]], dtype=bool)
    assert rle_encode(mask) == {"counts": [0, 2, 1, 1], "size": [2, 2]}
    assert rle_encode(np.zeros((2, 3), dtype=bool)) == {"counts": [6], "size": [2, 3]}
    assert rle_encode(torch.tensor([[0, 0, 1]], dtype=torch.bool)) == {"counts": [2, 1], "size": [1, 3]}
    with pytest.raises(ValueError, match="counts sum"):
        rle_decode({"counts": [1, 2], "size": [2, 2]})


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 7), st.integers(1, 7))))
def test_rle_round_trips_through_pycocotools(mask: np.ndarray):
    rle = rle_encode(mask)
    assert np.array_equal(rle_decode(rle), mask)
    compressed = mask_utils.frPyObjects(rle, *mask.shape)
    assert np.array_equal(mask_utils.decode(compressed).astype(bool), mask)
    assert int(mask_utils.area(compressed)) == int(mask.sum())
    # pycocotools' own encoding of the mask decodes to our runs' mask
    assert mask_utils.decode(mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))).astype(bool).tolist() == mask.tolist()


def coco_from(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    return coco


def test_coco_round_trip():
    part = make_shapes(8, SEED)
    data = json.loads(json.dumps(to_coco(part)))  # what a JSON file holds
    assert data["categories"] == [{"id": k, "name": n, "supercategory": "shape"} for k, n in ((1, "circle"), (2, "square"), (3, "triangle"))]
    assert [im["id"] for im in data["images"]] == list(range(1, 9))
    assert data["images"][0] == {"id": 1, "width": 128, "height": 128, "file_name": "shapes-000001.png"}
    assert [a["id"] for a in data["annotations"]] == list(range(1, sum(len(x) for x in part.labels) + 1))
    coco = coco_from(data)
    for i in range(8):
        anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=[i + 1])), key=lambda a: a["id"])
        masks = part.masks(i).numpy()
        assert [a["category_id"] for a in anns] == part.labels[i].tolist()
        for ann, mask, box in zip(anns, masks, part.boxes[i].tolist(), strict=True):
            assert ann["iscrowd"] == 0 and ann["image_id"] == i + 1
            assert np.array_equal(coco.annToMask(ann).astype(bool), mask)
            x0, y0, x1, y1 = box
            assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]
            rle = coco.annToRLE(ann)
            assert mask_utils.toBbox(rle).tolist() == ann["bbox"]  # pycocotools' tight box of the mask
            assert ann["area"] == mask.sum() == mask_utils.area(rle)


def test_write_coco_is_the_json_and_leaves_no_temporary_file(tmp_path):
    part = make_shapes(3, SEED, ShapesConfig(size=40, max_side=20))
    path = write_coco(part, tmp_path / "val.json")
    assert [p.name for p in tmp_path.iterdir()] == ["val.json"]
    assert json.loads(path.read_text()) == to_coco(part)
    coco = COCO(str(path))  # pycocotools reads the file
    assert len(coco.getAnnIds()) == sum(len(x) for x in part.labels)
    assert coco.imgs[1]["height"] == 40

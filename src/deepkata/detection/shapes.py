"""A generated data set for detection and segmentation: circles, squares and triangles.

Each image (128 x 128 by default) holds 1 to 6 shapes of random class, colour, size, position and
orientation on a dark uniform background with mild Gaussian noise. Shapes are painted in order,
later ones on top, so they occlude each other; a placement that would hide more than
1 - ``min_visible`` of an earlier shape's pixels is drawn again. Because the generator knows
which shape owns every pixel, the instance masks, the tight boxes and the semantic masks are
exact, not annotated. The same seed gives the same bytes; train, validation and test splits come
from independent streams of one seed, and :func:`to_coco` writes the annotations as COCO JSON, so
pycocotools can score a detector on them as on COCO.

The idea follows the "shapes" toy set of Matterport's Mask R-CNN (Abdulla, 2017); the annotation
format is COCO's (Lin et al., "Microsoft COCO: common objects in context", ECCV 2014, and
cocodataset.org/#format-data).

Geometry. Pixel (row i, column j) covers [j, j + 1) x [i, i + 1) and is sampled at its centre
(x, y) = (j + 0.5, i + 0.5), with x to the right and y down. A shape is (cx, cy, r, theta):

    circle      (x - cx)^2 + (y - cy)^2 <= r^2
    square      the square inscribed in the circle of radius r, turned by theta (theta = 0: sides
                along the axes, side r sqrt(2)); four half-plane tests
    triangle    the equilateral triangle inscribed in that circle, vertices at angles
                theta - pi/2 + 2 pi k / 3 (theta = 0: apex up); three half-plane tests

A convex polygon v_0 .. v_{m-1} (counter-clockwise in the (x, y) plane) contains a point p when
cross(v_{k+1} - v_k, p - v_k) >= 0 for every edge k; points on an edge count as inside.

Sampling one shape: the class uniformly from :data:`CLASSES`; its bounding size s (the larger side
of the unoccluded shape's continuous bounding box) uniform in [min_side, max_side], which fixes r;
theta uniform over the shape's symmetry period (0 without ``rotate``); the centre uniform such that
the whole shape lies inside the image; a colour uniform in {0..255}^3 whose RGB distance from the
background and from every shape still visible in the new shape's bounding window is at least
``min_contrast``. When the placement hides too much of an earlier shape or the colour is too
close, size, angle, position and colour are drawn again (the class stays), up to ``max_tries``
times, after which the shape is left out; an image left with fewer than ``min_objects`` shapes is
drawn again.

Annotations, for an image with N shapes in painting order (bottom first):

    boxes      (N, 4) float32   x0, y0, x1, y1 in pixel-edge coordinates: the tight box of the
                                visible mask, x0 = its first column, x1 = its last column + 1
    labels     (N,) int64       category ids, 1 = circle, 2 = square, 3 = triangle
    masks      (N, H, W) bool   visible instance masks: disjoint, none empty
    semantic   (H, W) uint8     the class id of the visible shape at each pixel, 0 = background

:class:`Shapes` stores one instance map per image (the index of the visible shape at each pixel,
-1 for background) rather than N masks, a byte a pixel however many shapes there are;
:meth:`Shapes.masks` expands it.

COCO segmentations are uncompressed run-length encodings, ``{"counts": [...], "size": [H, W]}``:
the mask read in column-major (Fortran) order, as alternating run lengths of 0s and 1s that
start with a (possibly empty) run of 0s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepkata.core.config import Config, param
from deepkata.core.errors import ConfigError
from deepkata.core.records import write_text

__all__ = [
    "CLASSES",
    "CIRCLE",
    "SQUARE",
    "TRIANGLE",
    "Shapes",
    "ShapesConfig",
    "Splits",
    "disc_mask",
    "make_shapes",
    "make_splits",
    "polygon_mask",
    "rle_decode",
    "rle_encode",
    "shape_mask",
    "shape_vertices",
    "to_coco",
    "write_coco",
]

CLASSES: tuple[str, ...] = ("circle", "square", "triangle")
CIRCLE, SQUARE, TRIANGLE = 1, 2, 3  # COCO category ids; 0 is the background in semantic masks
SPLITS: tuple[str, ...] = ("train", "val", "test")  # split k is drawn from stream k of the seed
IMAGE_ATTEMPTS = 100  # redraws of an image whose shapes could not all be placed before giving up


@dataclass(frozen=True, kw_only=True)
class ShapesConfig(Config):
    """How the shapes images are drawn; the defaults are issue 18's: 1-6 shapes at 128 x 128."""

    size: int = param(128, "height and width of the images in pixels", ge=8, le=4096)
    min_objects: int = param(1, "fewest shapes in an image", ge=0, le=127)
    max_objects: int = param(6, "most shapes in an image", ge=1, le=127)
    min_side: int = param(12, "smallest bounding size of a shape: the larger side of its unoccluded box, pixels", ge=2)
    max_side: int = param(48, "largest bounding size of a shape, pixels (at most size)", ge=2)
    min_visible: float = param(0.5, "share of each shape's pixels that later shapes must leave visible", gt=0, le=1)
    max_tries: int = param(50, "placements drawn for one shape before it is left out", ge=1)
    rotate: bool = param(True, "turn squares and triangles by a random angle (False: axis-aligned squares, apex-up triangles)")
    background_max: int = param(96, "the background's colour is uniform in {0..background_max}^3", ge=0, le=255)
    min_contrast: float = param(80.0, "least RGB distance of a shape's colour from the background and the shapes it overlaps", ge=0, le=160)
    noise: float = param(3.0, "standard deviation of the Gaussian noise added to every pixel, grey levels", ge=0, le=64)

    def validate(self) -> None:
        if self.min_objects > self.max_objects:
            raise ConfigError(f"min_objects ({self.min_objects}) must not exceed max_objects ({self.max_objects})")
        if self.min_side > self.max_side:
            raise ConfigError(f"min_side ({self.min_side}) must not exceed max_side ({self.max_side})")
        if self.max_side > self.size:
            raise ConfigError(f"max_side ({self.max_side}) must not exceed size ({self.size})")


# --------------------------------------------------------------------------------------------
# Rasterization
# --------------------------------------------------------------------------------------------


def _window(x0: float, y0: float, x1: float, y1: float, height: int, width: int) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Rows and columns whose pixel centres may lie in [x0, x1] x [y0, y1], clipped to the image,
    and those centres: x (1, w) and y (h, 1)."""
    j0, j1 = max(0, math.floor(x0)), min(width, math.ceil(x1) + 1)
    i0, i1 = max(0, math.floor(y0)), min(height, math.ceil(y1) + 1)
    j1, i1 = max(j0, j1), max(i0, i1)
    x = (np.arange(j0, j1, dtype=np.float64) + 0.5)[None, :]  # (1, w)
    y = (np.arange(i0, i1, dtype=np.float64) + 0.5)[:, None]  # (h, 1)
    return slice(i0, i1), slice(j0, j1), x, y


def _disc_window(cx: float, cy: float, r: float, height: int, width: int) -> tuple[slice, slice, np.ndarray]:
    rows, cols, x, y = _window(cx - r, cy - r, cx + r, cy + r, height, width)
    # (x - cx)^2 + (y - cy)^2 <= r^2
    return rows, cols, (x - cx) ** 2 + (y - cy) ** 2 <= r * r  # (h, w)


def _polygon_window(vertices: np.ndarray, height: int, width: int) -> tuple[slice, slice, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)  # (m, 2): x, y
    # twice the signed area, sum_k cross(v_k, v_{k+1}); negative: clockwise, so reverse
    if np.sum(v[:, 0] * np.roll(v[:, 1], -1) - v[:, 1] * np.roll(v[:, 0], -1)) < 0:
        v = v[::-1]
    rows, cols, x, y = _window(v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max(), height, width)
    inside = np.ones((y.shape[0], x.shape[1]), dtype=bool)  # (h, w)
    for (ax, ay), (bx, by) in zip(v, np.roll(v, -1, axis=0)):
        # cross(b - a, p - a) = (bx - ax)(y - ay) - (by - ay)(x - ax) >= 0: p on the inner side of edge a -> b
        inside &= (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= 0
    return rows, cols, inside


def disc_mask(cx: float, cy: float, r: float, height: int, width: int) -> np.ndarray:
    """(height, width) bool: the pixels whose centres lie in the closed disc of radius r about (cx, cy)."""
    mask = np.zeros((height, width), dtype=bool)
    rows, cols, inside = _disc_window(cx, cy, r, height, width)
    mask[rows, cols] = inside
    return mask


def polygon_mask(vertices: Sequence[Sequence[float]] | np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width) bool: the pixels whose centres lie in the closed convex polygon ``vertices``
    ((m, 2) x, y in pixel-edge coordinates, in either orientation)."""
    mask = np.zeros((height, width), dtype=bool)
    rows, cols, inside = _polygon_window(np.asarray(vertices, dtype=np.float64), height, width)
    mask[rows, cols] = inside
    return mask


def shape_vertices(label: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """(m, 2) x, y of a square (m = 4) or triangle (m = 3) inscribed in the circle of radius r about
    (cx, cy), counter-clockwise in the (x, y) plane."""
    if label == SQUARE:
        # phi_k = theta + pi/4 + k pi/2
        phi = angle + math.pi / 4 + np.arange(4) * (math.pi / 2)
    elif label == TRIANGLE:
        # phi_k = theta - pi/2 + 2 pi k / 3
        phi = angle - math.pi / 2 + np.arange(3) * (2 * math.pi / 3)
    else:
        raise ValueError(f"shape_vertices: label {label} is not a polygon (square {SQUARE}, triangle {TRIANGLE})")
    # v_k = (cx + r cos phi_k, cy + r sin phi_k)
    return np.stack([cx + r * np.cos(phi), cy + r * np.sin(phi)], axis=1)


def _shape_window(label: int, geometry: Sequence[float], height: int, width: int) -> tuple[slice, slice, np.ndarray]:
    cx, cy, r, angle = (float(g) for g in geometry)
    if label == CIRCLE:
        return _disc_window(cx, cy, r, height, width)
    return _polygon_window(shape_vertices(label, cx, cy, r, angle), height, width)


def shape_mask(label: int, geometry: Sequence[float], height: int, width: int) -> np.ndarray:
    """(height, width) bool: the whole (unoccluded) shape of class ``label`` with geometry
    (cx, cy, r, theta), as stored in :attr:`Shapes.geometry`."""
    if label not in (CIRCLE, SQUARE, TRIANGLE):
        raise ValueError(f"shape_mask: unknown label {label} (valid: 1 circle, 2 square, 3 triangle)")
    mask = np.zeros((height, width), dtype=bool)
    rows, cols, inside = _shape_window(label, geometry, height, width)
    mask[rows, cols] = inside
    return mask


def _unit_extent(label: int, angle: float) -> tuple[float, float, float, float]:
    """xmin, xmax, ymin, ymax of the shape with r = 1 about the origin."""
    if label == CIRCLE:
        return -1.0, 1.0, -1.0, 1.0
    v = shape_vertices(label, 0.0, 0.0, 1.0, angle)
    return float(v[:, 0].min()), float(v[:, 0].max()), float(v[:, 1].min()), float(v[:, 1].max())


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

# the angle of a polygon is drawn over its symmetry period: 2 pi / m for m vertices
PERIOD = {CIRCLE: 0.0, SQUARE: math.pi / 2, TRIANGLE: 2 * math.pi / 3}


@dataclass(frozen=True)
class _Image:
    pixels: np.ndarray  # (3, H, W) uint8
    instances: np.ndarray  # (H, W) int8: index of the visible shape, -1 background
    labels: np.ndarray  # (N,) int64
    geometry: np.ndarray  # (N, 4) float64: cx, cy, r, theta


def _contrasts(colour: np.ndarray, others: np.ndarray, least: float) -> bool:
    """Whether ``colour`` (3,) lies at least ``least`` from every row of ``others`` (k, 3), in RGB."""
    # ||c - o||_2 >= least for every o
    return bool(np.all(np.sum((others - colour) ** 2, axis=1) >= least * least))


def _draw_image(rng: np.random.Generator, cfg: ShapesConfig) -> _Image | None:
    """One image, or None when fewer than ``min_objects`` shapes could be placed."""
    size = cfg.size
    background = rng.integers(0, cfg.background_max + 1, size=3)  # (3,)
    count = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    owner = np.full((size, size), -1, dtype=np.int8)  # (H, W): index of the visible shape
    labels: list[int] = []
    geometry: list[tuple[float, float, float, float]] = []
    colours: list[np.ndarray] = [background]  # the background's, then each shape's
    full = np.zeros(0, dtype=np.int64)  # (k,): pixels of each placed shape, unoccluded
    visible = np.zeros(0, dtype=np.int64)  # (k,): pixels of each placed shape still visible
    for _ in range(count):
        label = int(rng.integers(1, len(CLASSES) + 1))
        for _try in range(cfg.max_tries):
            angle = float(rng.uniform(0.0, PERIOD[label])) if cfg.rotate and label != CIRCLE else 0.0
            xmin, xmax, ymin, ymax = _unit_extent(label, angle)
            side = float(rng.uniform(cfg.min_side, cfg.max_side))
            # s = r * max(xmax - xmin, ymax - ymin): the bounding size fixes r
            r = side / max(xmax - xmin, ymax - ymin)
            # the whole shape inside the image: 0 <= cx + r xmin and cx + r xmax <= size (max: rounding when s = size)
            cx = float(rng.uniform(-r * xmin, max(-r * xmin, size - r * xmax)))
            cy = float(rng.uniform(-r * ymin, max(-r * ymin, size - r * ymax)))
            rows, cols, inside = _shape_window(label, (cx, cy, r, angle), size, size)
            area = int(inside.sum())
            if area == 0:
                continue
            window = owner[rows, cols]  # a view: (h, w)
            under = window[inside]  # owners of the pixels the new shape would cover
            # pixels each earlier shape would lose; it must keep visible_k - hidden_k >= min_visible * full_k
            hidden = np.bincount(under[under >= 0], minlength=len(full))
            if np.any(visible - hidden < cfg.min_visible * full):
                continue
            colour = rng.integers(0, 256, size=3)
            nearby = np.unique(window[window >= 0]) + 1  # rows of ``colours`` visible in the window
            others = np.stack([colours[0], *(colours[k] for k in nearby)])
            if not _contrasts(colour, others, cfg.min_contrast):
                continue
            window[inside] = len(full)
            visible = np.append(visible - hidden, area)
            full = np.append(full, area)
            labels.append(label)
            geometry.append((cx, cy, r, angle))
            colours.append(colour)
            break
    if len(labels) < cfg.min_objects:
        return None
    palette = np.stack(colours).astype(np.float64)  # (N + 1, 3): background first
    image = palette[owner.astype(np.int64) + 1]  # (H, W, 3)
    if cfg.noise > 0:
        image = image + rng.normal(0.0, cfg.noise, size=image.shape)
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8).transpose(2, 0, 1)  # (3, H, W)
    return _Image(
        pixels=np.ascontiguousarray(pixels),
        instances=owner,
        labels=np.array(labels, dtype=np.int64),
        geometry=np.array(geometry, dtype=np.float64).reshape(-1, 4),
    )


def _boxes(masks: np.ndarray) -> np.ndarray:
    """(N, 4) float32 x0, y0, x1, y1: the tight pixel-edge boxes of non-empty masks (N, H, W)."""
    rows, cols = masks.any(axis=2), masks.any(axis=1)  # (N, H), (N, W)
    height, width = masks.shape[1:]
    # x0 = first column, x1 = last column + 1; the same for rows
    x0, x1 = cols.argmax(axis=1), width - cols[:, ::-1].argmax(axis=1)
    y0, y1 = rows.argmax(axis=1), height - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)


def _instance_masks(instances: np.ndarray, count: int) -> np.ndarray:
    """(N, H, W) bool from an instance map (H, W) (-1 background)."""
    # mask_k = [instances == k]
    return instances[None] == np.arange(count, dtype=instances.dtype)[:, None, None]


@dataclass(frozen=True)
class Shapes:
    """A generated set of shapes images: a map-style data set, ``shapes[i]`` -> (image, target).

    ``boxes``, ``labels`` and ``geometry`` are lists with one tensor per image; the masks are kept
    as one instance map per image and expanded by :meth:`masks`.
    """

    images: Tensor  # (B, 3, H, W) uint8
    semantic: Tensor  # (B, H, W) uint8: class id of the visible shape, 0 background
    instances: Tensor  # (B, H, W) int8: index of the visible shape, -1 background
    boxes: list[Tensor]  # B x (N_b, 4) float32 x0, y0, x1, y1: tight boxes of the visible masks
    labels: list[Tensor]  # B x (N_b,) int64 in 1..3, painting order (bottom first)
    geometry: list[Tensor]  # B x (N_b, 4) float64 cx, cy, r, theta: the unoccluded shapes (shape_mask)
    cfg: ShapesConfig
    seed: int
    stream: int

    def __len__(self) -> int:
        return self.images.shape[0]

    def masks(self, index: int) -> Tensor:
        """(N, H, W) bool: the visible instance masks of image ``index``."""
        count = self.labels[index].shape[0]
        return torch.from_numpy(_instance_masks(self.instances[index].numpy(), count))

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        """(image (3, H, W) uint8, {"boxes", "labels", "masks", "semantic"}), torchvision's target layout."""
        target = {"boxes": self.boxes[index], "labels": self.labels[index], "masks": self.masks(index), "semantic": self.semantic[index]}
        return self.images[index], target


def make_shapes(n: int, seed: int, cfg: ShapesConfig | None = None, *, stream: int = 0) -> Shapes:
    """``n`` images, the same bytes for the same (seed, stream, cfg).

    Image i draws from its own generator, ``default_rng(SeedSequence(seed, spawn_key=(stream, i)))``,
    so the first k images do not depend on n, and streams are independent of each other.
    """
    cfg = ShapesConfig() if cfg is None else cfg
    if n < 0:
        raise ValueError(f"make_shapes: n must be >= 0, got {n}")
    size = cfg.size
    images = np.zeros((n, 3, size, size), dtype=np.uint8)
    semantic = np.zeros((n, size, size), dtype=np.uint8)
    instances = np.zeros((n, size, size), dtype=np.int8)
    boxes, labels, geometry = [], [], []
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, i)))
        for _ in range(IMAGE_ATTEMPTS):
            drawn = _draw_image(rng, cfg)
            if drawn is not None:
                break
        else:
            raise ConfigError(
                f"could not place min_objects={cfg.min_objects} shapes in {IMAGE_ATTEMPTS} attempts at size={size}; "
                "lower min_objects, max_side or min_visible, or raise max_tries"
            )
        images[i], instances[i] = drawn.pixels, drawn.instances
        # semantic = label of the visible shape, 0 where instances = -1
        semantic[i] = np.concatenate([[0], drawn.labels])[drawn.instances.astype(np.int64) + 1]
        boxes.append(torch.from_numpy(_boxes(_instance_masks(drawn.instances, len(drawn.labels)))).reshape(-1, 4))
        labels.append(torch.from_numpy(drawn.labels))
        geometry.append(torch.from_numpy(drawn.geometry))
    return Shapes(
        images=torch.from_numpy(images),
        semantic=torch.from_numpy(semantic),
        instances=torch.from_numpy(instances),
        boxes=boxes,
        labels=labels,
        geometry=geometry,
        cfg=cfg,
        seed=seed,
        stream=stream,
    )


@dataclass(frozen=True)
class Splits:
    """Train, validation and test sets from one seed: streams 0, 1 and 2."""

    train: Shapes
    val: Shapes
    test: Shapes


def make_splits(seed: int, *, train: int = 1000, val: int = 200, test: int = 200, cfg: ShapesConfig | None = None) -> Splits:
    """Three sets drawn from independent streams of ``seed`` (``train`` equals ``make_shapes(train, seed)``)."""
    sizes = {"train": train, "val": val, "test": test}
    return Splits(**{name: make_shapes(sizes[name], seed, cfg, stream=k) for k, name in enumerate(SPLITS)})


# --------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------


def rle_encode(mask: np.ndarray | Tensor) -> dict[str, Any]:
    """COCO's uncompressed RLE of a (H, W) mask: run lengths over the column-major pixels,
    alternately 0s and 1s, starting with the 0s (an empty run when the first pixel is 1)."""
    m = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"rle_encode: expects a (H, W) mask, got shape {m.shape}")
    flat = m.astype(bool).ravel(order="F")  # down the first column, then the next
    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # where a new run begins
    runs = np.diff(np.concatenate([[0], starts, [flat.size]]))
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    return {"counts": [int(c) for c in runs], "size": [int(m.shape[0]), int(m.shape[1])]}


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """The (H, W) bool mask of an uncompressed RLE (the inverse of :func:`rle_encode`)."""
    height, width = (int(s) for s in rle["size"])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != height * width or np.any(counts < 0):
        raise ValueError(f"rle_decode: counts sum to {int(counts.sum())}, the size {height}x{width} has {height * width} pixels")
    # run k holds value k mod 2
    flat = np.repeat(np.arange(counts.size) % 2 == 1, counts)
    return flat.reshape((height, width), order="F")


def to_coco(shapes: Shapes) -> dict[str, Any]:
    """COCO ground truth: images (ids from 1), annotations (ids from 1, bbox [x, y, w, h], area =
    visible pixels, RLE segmentation, iscrowd 0) and the three categories."""
    size = shapes.cfg.size
    images, annotations = [], []
    for i in range(len(shapes)):
        image_id = i + 1
        images.append({"id": image_id, "width": size, "height": size, "file_name": f"shapes-{image_id:06d}.png"})
        masks = shapes.masks(i).numpy()  # (N, H, W)
        for box, label, mask in zip(shapes.boxes[i].tolist(), shapes.labels[i].tolist(), masks):
            x0, y0, x1, y1 = box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    # [x, y, w, h] = [x0, y0, x1 - x0, y1 - y0]
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "area": float(mask.sum()),
                    "iscrowd": 0,
                    "segmentation": rle_encode(mask),
                }
            )
    categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(CLASSES)]
    info = {"description": f"deepkata shapes, seed {shapes.seed}, stream {shapes.stream}", "version": "1"}
    return {"info": info, "licenses": [], "images": images, "annotations": annotations, "categories": categories}


def write_coco(shapes: Shapes, path: str | Path) -> Path:
    """Write :func:`to_coco` as JSON to ``path`` atomically (a temporary file in the same folder,
    then renamed into place); returns the path."""
    path = Path(path)
    write_text(path, json.dumps(to_coco(shapes), separators=(",", ":")))
    return path

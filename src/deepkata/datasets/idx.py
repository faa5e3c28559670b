"""The IDX file format of MNIST and Fashion-MNIST, read strictly.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/, "FILE FORMATS") is a header and a
C-order array, big-endian::

    bytes 0-1   0x00 0x00
    byte  2     the element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     the number of dimensions n
    then        n sizes, each a big-endian uint32
    then        prod(sizes) elements

so MNIST's images begin with the magic number 0x00000803 = 2051 (uint8, 3 dimensions: count, 28,
28) and its labels with 0x00000801 = 2049 (uint8, 1 dimension: count). Files may be gzipped
(``.gz``). :func:`read_idx` refuses a file that is not exactly this — a wrong magic number, a
header or payload cut short, bytes left over — with a one-line :class:`UserError` naming the file
and what was expected.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from deepkata.core.errors import UserError

# element type code -> big-endian NumPy dtype
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}  # fmt: skip
IMAGES_MAGIC = 0x0803  # uint8, 3 dimensions: (count, rows, columns)
LABELS_MAGIC = 0x0801  # uint8, 1 dimension: (count,)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in ``.gz``; a UserError if it cannot be read."""
    try:
        raw = Path(path).read_bytes()
        return gzip.decompress(raw) if str(path).endswith(".gz") else raw
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise UserError(f"{path}: not a readable gzip file ({e}); expected a gzipped IDX file") from None


def parse_idx(data: bytes, name: str, magic: int | None = None) -> np.ndarray:
    """The array an IDX file holds, from its bytes; ``name`` labels errors, ``magic`` is the one expected."""
    if len(data) < 4:
        raise UserError(f"{name}: {len(data)} bytes, too short for an IDX header (4 bytes of magic number)")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise UserError(f"{name}: magic number {found} (0x{found:08X}), expected {magic} (0x{magic:08X}); not the expected IDX file")
    if data[0] != 0 or data[1] != 0 or data[2] not in DTYPES or data[3] == 0:
        raise UserError(f"{name}: magic number 0x{found:08X} is not IDX (expected 0x0000TTNN: type TT in {sorted(DTYPES)}, NN >= 1 dimensions)")
    ndim, dtype = data[3], DTYPES[data[2]]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{name}: truncated header: {len(data)} bytes, expected {header} for {ndim} dimension sizes")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes"
        raise UserError(f"{name}: {what}: {len(data):,} bytes, expected {expected:,} for a {' x '.join(map(str, shape))} array of {dtype.name}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """The array stored in the IDX file ``path`` (gzipped or not); see the module docstring."""
    return parse_idx(read_bytes(path), str(path), magic)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file, gzipped when ``path`` ends in ``.gz``: for generated stand-ins."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in a.shape) + a.tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)

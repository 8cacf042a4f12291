"""Read TensorFlow 1 checkpoints (V2 tensor bundles) with NumPy alone, no TensorFlow.

``tf.train.Saver`` (V2, the default since TensorFlow 1.0) writes a checkpoint ``PREFIX`` as
two or more files:

- ``PREFIX.index``: an immutable sorted key/value table in LevelDB's SSTable format
  (``tensorflow/core/lib/io/table_format.txt``, which defers to LevelDB's
  ``doc/table_format.md``; TensorFlow's tables have no filter blocks). Data blocks of
  prefix-compressed entries (``varint32 shared, varint32 non_shared, varint32 value_length,
  key suffix, value``) end with an array of ``uint32`` restart offsets and their count; each
  block is followed by a 5-byte trailer (compression type, 0 = none or 1 = Snappy, and the
  masked CRC-32C of the block and type). An index block maps keys to the data blocks'
  ``(varint64 offset, varint64 size)`` handles; a 48-byte footer at the end holds the
  metaindex and index handles and the magic number ``0xdb4775248b80fb57``. The entry under
  the empty key is a ``BundleHeaderProto``; every other key is a variable's name with its
  ``BundleEntryProto`` (``tensorflow/core/protobuf/tensor_bundle.proto``: ``dtype`` 1,
  ``shape`` 2, ``shard_id`` 3, ``offset`` 4, ``size`` 5, ``crc32c`` 6 (masked), ``slices``
  7).
- ``PREFIX.data-00000-of-0000N``: the tensors' raw bytes, C order, in the header's byte order
  (``tensorflow/core/util/tensor_bundle/tensor_bundle.cc``, ``BundleWriter::Add``).

Why a reader of our own: TensorFlow (hundreds of MB) is too heavy a dependency for reading a
few arrays, and the pure-Python ``tensorflow-checkpoint-reader`` on the package index (0.2.2)
describes itself as "in development ... might not do anything at all", vendors 5 MB of
generated protobuf modules and pins ``protobuf<3.19``. The format is small and documented;
this module reads what SID's checkpoints use (numeric tensors, uncompressed tables, little
endian) and refuses the rest with one line each. Every block and every tensor read is
checked against its CRC-32C (:mod:`gianet.fetch.crc32c`), so a damaged download is caught.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gianet.errors import GianetError
from gianet.fetch.crc32c import crc32c, unmask

#: LevelDB's table magic (``leveldb/table/format.h``, ``kTableMagicNumber``).
TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_TRAILER = 5
#: ``tensorflow/core/framework/types.proto`` codes of the numeric types read here.
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}
#: The bundle format versions this reader accepts (``kTensorBundleVersion``).
BUNDLE_VERSION = 1
_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")
_FIX = "give the prefix of a TensorFlow checkpoint written by tf.train.Saver (PREFIX.index)"


class TFCheckpointError(GianetError, ValueError):
    """A TensorFlow checkpoint is missing, damaged or of a kind not read here."""


@dataclass(frozen=True)
class TensorEntry:
    """Where one variable lies (a ``BundleEntryProto``).

    Attributes:
        name: the variable's name (``g_conv1_1/weights``).
        dtype: TensorFlow's type code (1 = float32; :data:`DTYPES`).
        shape: its shape, TensorFlow's order (convolution kernels HWIO).
        shard: which data file holds it.
        offset, size: its bytes in that file.
        crc32c: CRC-32C of those bytes, masked as stored.
        sliced: a partitioned variable (not read here).
    """

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int
    sliced: bool


def resolve_prefix(path: str | Path) -> Path:
    """The checkpoint prefix ``path`` names: the prefix itself (``model.ckpt``), its index or
    data file, or a folder holding exactly one ``*.index``.

    Raises:
        TFCheckpointError: no index file there, or a folder with none or several.
    """
    path = Path(path)
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if len(indexes) != 1:
            found = ", ".join(p.name for p in indexes) or "none"
            raise TFCheckpointError(
                f"{path}: a folder with {len(indexes)} checkpoint index files ({found}); {_FIX}"
            )
        path = indexes[0]
    name = _DATA_SUFFIX.sub("", path.name)
    prefix = path.with_name(name[: -len(".index")] if name.endswith(".index") else name)
    if not Path(f"{prefix}.index").is_file():
        raise TFCheckpointError(f"{prefix}.index: no such file; {_FIX}")
    return prefix


def index_path(prefix: Path) -> Path:
    return Path(f"{prefix}.index")


def data_path(prefix: Path, shard: int, shards: int) -> Path:
    """``PREFIX.data-SSSSS-of-NNNNN`` (``tensorflow/core/util/tensor_bundle/naming.cc``)."""
    return Path(f"{prefix}.data-{shard:05d}-of-{shards:05d}")


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    """A base-128 varint at ``position``: (value, position after it)."""
    value = shift = 0
    while True:
        if position >= len(buffer) or shift > 63:
            raise ValueError("a varint runs past its record")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _signed(value: int) -> int:
    """A protobuf int64 read as unsigned, back to its sign."""
    return value - (1 << 64) if value >= 1 << 63 else value


def proto_fields(buffer: bytes) -> dict[int, list[int | bytes]]:
    """A protobuf message's fields by number: varints and fixed32 as int, bytes as bytes."""
    fields: dict[int, list[int | bytes]] = {}
    position = 0
    while position < len(buffer):
        key, position = _varint(buffer, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(buffer, position)
        elif wire == 2:
            length, position = _varint(buffer, position)
            value = buffer[position : position + length]
            if len(value) != length:
                raise ValueError(f"field {number} runs past its record")
            position += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value = int.from_bytes(buffer[position : position + width], "little")
            position += width
        else:
            raise ValueError(f"field {number} has wire type {wire}, not used by these records")
        fields.setdefault(number, []).append(value)
    return fields


def _block(data: bytes, handle: bytes, where: str) -> bytes:
    """The contents of the block a handle points to, its CRC checked."""
    offset, position = _varint(handle, 0)
    size, _ = _varint(handle, position)
    end = offset + size
    if end + _TRAILER > len(data):
        raise ValueError(f"{where} ends past the end of the file (truncated?)")
    contents, kind = data[offset:end], data[end]
    (stored,) = struct.unpack_from("<I", data, end + 1)
    if crc32c(data[offset : end + 1]) != unmask(stored):
        raise ValueError(f"{where} fails its CRC-32C check (damaged file)")
    if kind != 0:
        names = {1: "Snappy"}
        raise ValueError(
            f"{where} is compressed ({names.get(kind, f'type {kind}')}); only uncompressed "
            "tables are read (TensorFlow writes none compressed since 1.2)"
        )
    return contents


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) entries of a table block, in order."""
    if len(block) < 4:
        raise ValueError("a block too short for its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise ValueError("a block's restart array runs past its start")
    key, position = b"", 0
    while position < limit:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        length, position = _varint(block, position)
        if shared > len(key) or position + unshared + length > limit:
            raise ValueError("a table entry runs past its block")
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        yield key, block[position : position + length]
        position += length


def table_entries(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Every (key, value) of an SSTable held in ``data``, in key order.

    Raises:
        ValueError: not a table, truncated, damaged or compressed (the message says which).
    """
    if len(data) < _FOOTER:
        raise ValueError(f"{len(data)} bytes, shorter than a table's {_FOOTER}-byte footer")
    footer = data[-_FOOTER:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER - 8)
    if magic != TABLE_MAGIC:
        raise ValueError(f"no table footer (magic {magic:#018x}, expected {TABLE_MAGIC:#018x})")
    _, position = _varint(footer, 0)  # the metaindex handle: TensorFlow writes no meta blocks
    _, position = _varint(footer, position)
    index = _block(data, footer[position:], "the index block")
    for number, (_, handle) in enumerate(_block_entries(index)):
        yield from _block_entries(_block(data, handle, f"data block {number}"))


def _entry(name: str, record: bytes) -> TensorEntry:
    fields = proto_fields(record)
    shape_fields = proto_fields(fields.get(2, [b""])[-1])
    dims = tuple(_signed(proto_fields(dim).get(1, [0])[-1]) for dim in shape_fields.get(2, []))
    first = {number: values[-1] for number, values in fields.items()}
    return TensorEntry(
        name=name,
        dtype=int(first.get(1, 0)),
        shape=dims,
        shard=int(first.get(3, 0)),
        offset=_signed(int(first.get(4, 0))),
        size=_signed(int(first.get(5, 0))),
        crc32c=int(first.get(6, 0)),
        sliced=7 in fields,
    )


class TFCheckpoint:
    """A TensorFlow V2 checkpoint opened for reading; its index is read and checked here.

    Attributes:
        prefix: the checkpoint's prefix (files ``PREFIX.index``, ``PREFIX.data-*``).
        shards: how many data files it has.
        entries: every variable's :class:`TensorEntry`, by name.

    Raises:
        TFCheckpointError: naming the index file and what is wrong with it.
    """

    def __init__(self, path: str | Path) -> None:
        self.prefix = resolve_prefix(path)
        index = index_path(self.prefix)
        try:
            records = list(table_entries(index.read_bytes()))
            if not records or records[0][0] != b"":
                raise ValueError("no bundle header under the empty key")
            header = {n: v[-1] for n, v in proto_fields(records[0][1]).items()}
            version = {n: v[-1] for n, v in proto_fields(header.get(3, b"")).items()}
            self.entries = {
                key.decode("utf-8"): _entry(key.decode("utf-8"), value)
                for key, value in records[1:]
            }
        except (ValueError, UnicodeDecodeError) as exc:
            raise TFCheckpointError(
                f"{index}: not a readable TensorFlow checkpoint index ({exc}); {_FIX}"
            ) from None
        if header.get(2, 0) != 0:
            raise TFCheckpointError(
                f"{index}: written on a big-endian machine; only little-endian checkpoints "
                "are read (convert it with TensorFlow on the machine that wrote it)"
            )
        if int(version.get(2, 0)) > BUNDLE_VERSION:
            raise TFCheckpointError(
                f"{index}: needs a reader of bundle version {version.get(2)} (this one reads "
                f"{BUNDLE_VERSION}); re-save it with TensorFlow 1.x"
            )
        self.shards = int(header.get(1, 1))

    def read(self, name: str) -> np.ndarray:
        """Variable ``name`` as a new NumPy array of its dtype and TensorFlow's shape, its
        bytes checked against the recorded CRC-32C.

        Raises:
            TFCheckpointError: no such variable, a type or layout not read here, or its data
                file missing, truncated or damaged (naming the file and the variable).
        """
        entry = self.entries.get(name)
        if entry is None:
            raise TFCheckpointError(f"{index_path(self.prefix)}: no variable named {name!r}")
        if entry.sliced:
            raise TFCheckpointError(f"{self.prefix}: {name} is partitioned; not read here")
        dtype = DTYPES.get(entry.dtype)
        if dtype is None:
            raise TFCheckpointError(
                f"{self.prefix}: {name} has TensorFlow type {entry.dtype}, not a numeric type "
                "read here"
            )
        expected = math.prod(entry.shape) * dtype.itemsize
        if entry.size != expected or entry.offset < 0:
            raise TFCheckpointError(
                f"{index_path(self.prefix)}: {name} records {entry.size} bytes at offset "
                f"{entry.offset}; its shape {list(entry.shape)} needs {expected} (damaged index)"
            )
        path = data_path(self.prefix, entry.shard, self.shards)
        if not path.is_file():
            raise TFCheckpointError(
                f"{path}: no such file, but {name} is stored there; copy the whole checkpoint "
                "(PREFIX.index and every PREFIX.data-*)"
            )
        with open(path, "rb") as handle:
            handle.seek(entry.offset)
            raw = bytearray(handle.read(entry.size))
        if len(raw) != entry.size:
            raise TFCheckpointError(
                f"{path}: ends before {name} does (needs bytes {entry.offset} to "
                f"{entry.offset + entry.size}); the file is truncated, download it again"
            )
        if crc32c(raw) != unmask(entry.crc32c):
            raise TFCheckpointError(
                f"{path}: the bytes of {name} fail their CRC-32C check; the file is damaged, "
                "download it again"
            )
        return np.frombuffer(raw, dtype).reshape(entry.shape).astype(dtype.newbyteorder("="))

    def files(self) -> list[Path]:
        """The checkpoint's files: its index, then every data file."""
        shards = [data_path(self.prefix, shard, self.shards) for shard in range(self.shards)]
        return [index_path(self.prefix), *shards]

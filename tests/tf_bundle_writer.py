"""A writer of TensorFlow V2 checkpoints (tensor bundles) for the tests, without TensorFlow.

It writes what ``tf.train.Saver`` writes (``tensorflow/core/util/tensor_bundle/
tensor_bundle.cc``, ``BundleWriter``): ``PREFIX.data-00000-of-00001`` with every tensor's
bytes in key order, and ``PREFIX.index``, a LevelDB-format table (LevelDB's
``doc/table_format.md``) of the ``BundleHeaderProto`` under the empty key and one
``BundleEntryProto`` per tensor, in prefix-compressed blocks with restart points every 16
entries, each block followed by its type byte and masked CRC-32C, an empty metaindex block,
an index block and the 48-byte footer. Blocks are cut at ``block_size`` bytes, so a small
size gives a multi-block table. Its output is checked against TensorFlow's own in
tests/test_tf_checkpoint.py (the committed checkpoints of tests/data/sid_tf1 were written by
TensorFlow).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from gianet.fetch.crc32c import crc32c, mask
from gianet.fetch.tf_checkpoint import TABLE_MAGIC

#: NumPy dtype -> TensorFlow's type code (tensorflow/core/framework/types.proto).
TF_TYPES = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int64": 9, "float16": 19}


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # protobuf writes a negative int64 as its 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value) if value else b""


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_fixed32(number: int, value: int) -> bytes:
    return varint(number << 3 | 5) + struct.pack("<I", value)


def entry_record(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    """A ``BundleEntryProto`` (shard 0): dtype, TensorShapeProto, offset, size, masked CRC."""
    dims = b"".join(field_bytes(2, field_varint(1, dim)) for dim in shape)
    return (
        field_varint(1, dtype)
        + field_bytes(2, dims)
        + field_varint(4, offset)
        + field_varint(5, size)
        + field_fixed32(6, crc)
    )


def header_record(shards: int = 1, big_endian: bool = False, min_consumer: int = 0) -> bytes:
    """A ``BundleHeaderProto`` with ``VersionDef{producer: 1, min_consumer}``."""
    version = field_varint(1, 1) + field_varint(2, min_consumer)
    return field_varint(1, shards) + field_varint(2, int(big_endian)) + field_bytes(3, version)


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    """A table block: prefix-compressed entries, then the restart offsets and their count."""
    out, restarts, previous = bytearray(), [], b""
    for number, (key, value) in enumerate(entries):
        shared = 0
        if number % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        out += varint(shared) + varint(len(key) - shared) + varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def table_bytes(
    records: list[tuple[bytes, bytes]], block_size: int = 4096, compression: int = 0
) -> bytes:
    """An SSTable of sorted ``records``; ``compression`` is only written into the trailers
    (to test that a reader refuses compressed blocks)."""
    out = bytearray()

    def append(contents: bytes) -> bytes:
        offset = len(out)
        kind = bytes([compression])
        out.extend(contents + kind + struct.pack("<I", mask(crc32c(contents + kind))))
        return varint(offset) + varint(len(contents))

    index, pending, size = [], [], 0
    for key, value in records:
        pending.append((key, value))
        size += len(key) + len(value) + 3
        if size >= block_size:
            index.append((pending[-1][0], append(_block(pending, 16))))
            pending, size = [], 0
    if pending:
        index.append((pending[-1][0], append(_block(pending, 16))))
    metaindex = append(_block([], 1))
    index_handle = append(_block(index, 1))
    footer = (metaindex + index_handle).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out + footer)


def write_checkpoint(
    prefix: Path,
    tensors: dict[str, np.ndarray],
    block_size: int = 4096,
    header: bytes | None = None,
    compression: int = 0,
) -> None:
    """Write ``tensors`` as the checkpoint ``prefix`` (``prefix.index``,
    ``prefix.data-00000-of-00001``), little endian, as ``tf.train.Saver`` does."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    data, records = bytearray(), []
    for name in sorted(tensors):
        array = np.asarray(tensors[name])  # tobytes() is C order; keeps 0-d shapes
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        dtype = TF_TYPES[array.dtype.name]
        record = entry_record(dtype, array.shape, len(data), len(raw), mask(crc32c(raw)))
        records.append((name.encode(), record))
        data += raw
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(data))
    records.insert(0, (b"", header if header is not None else header_record()))
    Path(f"{prefix}.index").write_bytes(table_bytes(records, block_size, compression))

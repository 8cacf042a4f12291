"""CRC-32C (Castagnoli), as TensorFlow and LevelDB checksum their files, in NumPy.

TensorFlow's checkpoints record a CRC-32C of every tensor's bytes and of every block of their
index table, "masked" (``tensorflow/core/lib/hash/crc32c.h``: rotate right by 15 bits, add
``0xa282ead8``), the LevelDB convention (``leveldb/util/crc32c.h``). The polynomial is
Castagnoli's, bit-reflected ``0x82F63B78``, with the register preset to all ones and inverted
at the end; ``crc32c(b"123456789") == 0xE3069283`` (the standard check value).

The standard library has no CRC-32C, so it is computed here with NumPy: the input is cut into
equal lanes whose CRCs advance side by side, one byte of every lane per step, and the lanes'
CRCs are chained afterwards (CRC is linear over GF(2): the register after a lane is the lane's
own CRC from a zero register, XOR the register before it advanced over as many zero bytes).
About 0.35 s for SID's 31 MB of Sony weights on one CPU core, ten times faster per byte than
a byte-at-a-time table loop (``benchmarks/bench_crc32c.py``).
"""

from __future__ import annotations

import numpy as np

#: Castagnoli's polynomial, bit-reflected.
POLYNOMIAL = 0x82F63B78
#: TensorFlow's and LevelDB's mask delta (``crc32c::kMaskDelta``).
MASK_DELTA = 0xA282EAD8
_ALL_ONES = 0xFFFFFFFF
#: Below this many bytes the plain loop is faster than setting up lanes.
_SMALL = 1 << 14
#: Bytes per lane (1 KiB to 9 KiB lanes all took about 1 s for 93 MB).
_LANE = 4096


def _byte_table() -> np.ndarray:
    """The 256-entry table of one reflected CRC step per byte value, uint32."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(POLYNOMIAL), table >> 1)
    return table.astype(np.uint32)


_TABLE = _byte_table()
_TABLE_LIST = [int(value) for value in _TABLE]


def _advance(register: int, data: bytes | memoryview) -> int:
    """The raw register (no presetting or inversion) after ``data``, one byte at a time."""
    table = _TABLE_LIST
    for byte in bytes(data):
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _zero_shift_tables(length: int) -> np.ndarray:
    """(4, 256) uint32: entry ``[p, v]`` is the register ``v << 8p`` after ``length`` zero
    bytes. The register after zeros is linear in the register before, so any register's
    image is the XOR of its four bytes' entries."""
    register = (
        np.arange(256, dtype=np.uint32)[None, :] << (8 * np.arange(4, dtype=np.uint32))[:, None]
    ).ravel()
    for _ in range(length):
        register = _TABLE[register & 0xFF] ^ (register >> 8)
    return register.reshape(4, 256)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C of ``data``: an int in ``[0, 2**32)``."""
    view = memoryview(data).cast("B")
    size = view.nbytes
    if size < _SMALL:
        return _advance(_ALL_ONES, view) ^ _ALL_ONES
    lanes = size // _LANE
    columns = np.frombuffer(view, np.uint8, count=lanes * _LANE).reshape(lanes, _LANE).T.copy()
    registers = np.zeros(lanes, np.uint32)
    index = np.empty(lanes, np.uint32)
    for column in columns:  # one byte of every lane per step, in place
        np.bitwise_xor(registers, column, out=index)
        np.bitwise_and(index, 0xFF, out=index)
        np.right_shift(registers, 8, out=registers)
        np.bitwise_xor(registers, _TABLE[index], out=registers)
    shift = _zero_shift_tables(_LANE).tolist()
    register = _ALL_ONES
    for own in registers.tolist():
        register = (
            shift[0][register & 0xFF]
            ^ shift[1][(register >> 8) & 0xFF]
            ^ shift[2][(register >> 16) & 0xFF]
            ^ shift[3][register >> 24]
            ^ own
        )
    register = _advance(register, view[lanes * _LANE :])
    return register ^ _ALL_ONES


def mask(crc: int) -> int:
    """TensorFlow's stored form of a CRC: rotated right by 15 bits, plus ``MASK_DELTA``."""
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & _ALL_ONES


def unmask(masked: int) -> int:
    """The CRC a stored (masked) value stands for; the inverse of :func:`mask`."""
    rotated = (masked - MASK_DELTA) & _ALL_ONES
    return ((rotated >> 17) | (rotated << 15)) & _ALL_ONES

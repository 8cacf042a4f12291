"""Packing Fuji X-Trans mosaics into 9 channels, as SID's ``train_Fuji.py`` does.

SID packs a 6x6 X-Trans tile into a 2x2 block of 9 channels, so a mosaic of H x W becomes
9 x H/3 x W/3 (H and W first cut to multiples of 6). The table below lists, for each packed
channel, the tile positions that fill the packed block's four pixels (top-left, top-right,
bottom-left, bottom-right), read from SID's code; ELD's ``noise.py`` uses the same layout.
SID's code assumes the phase of its Fuji X-T2 files; here the phase is found from the file's
own pattern, so a mosaic starting at another offset of the tile is cropped to SID's phase.
"""

from __future__ import annotations

import numpy as np

XTRANS_PERIOD = 6

#: Tile positions (row, col) per packed channel, in SID's order.
SID_XTRANS_LAYOUT: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 0), (0, 4), (3, 1), (3, 3)),  # R
    ((0, 2), (0, 5), (3, 2), (3, 5)),  # G
    ((0, 1), (0, 3), (3, 0), (3, 4)),  # B
    ((1, 2), (2, 5), (5, 2), (4, 5)),  # R
    ((2, 2), (1, 5), (4, 2), (5, 5)),  # B
    ((1, 0), (1, 3), (4, 0), (4, 3)),  # G
    ((1, 1), (1, 4), (4, 1), (4, 4)),  # G
    ((2, 0), (2, 3), (5, 0), (5, 3)),  # G
    ((2, 1), (2, 4), (5, 1), (5, 4)),  # G
)
_CHANNEL_COLOURS = (0, 1, 2, 0, 2, 1, 1, 1, 1)


def sid_xtrans_pattern() -> np.ndarray:
    """The 6x6 X-Trans tile SID's code expects: (6, 6) uint8, 0 = R, 1 = G, 2 = B."""
    tile = np.full((XTRANS_PERIOD, XTRANS_PERIOD), 255, dtype=np.uint8)
    for colour, positions in zip(_CHANNEL_COLOURS, SID_XTRANS_LAYOUT, strict=True):
        for row, col in positions:
            tile[row, col] = colour
    return tile


def xtrans_phase(pattern: np.ndarray) -> tuple[int, int]:
    """Offset (rows, cols) at which ``pattern`` (6, 6) lines up with SID's tile.

    Raises:
        ValueError: the pattern is no shift of SID's X-Trans tile.
    """
    reference = sid_xtrans_pattern()
    for dy in range(XTRANS_PERIOD):
        for dx in range(XTRANS_PERIOD):
            if np.array_equal(np.roll(pattern, (-dy, -dx), axis=(0, 1)), reference):
                return dy, dx
    raise ValueError(f"6x6 CFA pattern {pattern.tolist()} is not an X-Trans layout SID packs")


def pack_xtrans(
    data: np.ndarray, pattern: np.ndarray, black: np.ndarray, white: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pack an X-Trans mosaic, black level subtracted, keeping raw units.

    Args:
        data: (H, W) uint16 raw mosaic.
        pattern: (6, 6) colour of each tile position of ``data`` (0 R, 1 G, 2 B).
        black: (6, 6) black level of each tile position of ``data``.
        white: saturation level.

    Returns:
        packed: (9, H'/3, W'/3) uint16 ``max(raw - black, 0)``, where H', W' are the sizes
            after cropping to SID's phase and cutting to multiples of 6.
        scale: (9,) float32 ``white - black`` per channel.
    """
    dy, dx = xtrans_phase(pattern)
    aligned = data[dy:, dx:]
    black = np.roll(black, (-dy, -dx), axis=(0, 1))
    height = aligned.shape[0] - aligned.shape[0] % XTRANS_PERIOD
    width = aligned.shape[1] - aligned.shape[1] % XTRANS_PERIOD
    packed = np.empty((9, height // 3, width // 3), dtype=np.uint16)
    scales = np.empty(9, dtype=np.float32)
    quadrants = ((0, 0), (0, 1), (1, 0), (1, 1))
    for channel, positions in enumerate(SID_XTRANS_LAYOUT):
        # All four positions of a channel share one colour and, on real sensors, one black.
        scales[channel] = white - black[positions[0]]
        for (qy, qx), (row, col) in zip(quadrants, positions, strict=True):
            plane = aligned[row:height:XTRANS_PERIOD, col:width:XTRANS_PERIOD].astype(np.int32)
            packed[channel, qy::2, qx::2] = np.clip(plane - black[row, col], 0, None)
    return packed, scales

"""Colour-filter arrays and SID's two cameras: one table each.

A raw file's CFA is read from the file (so ``gianet enhance`` works on any camera with a
Bayer or X-Trans sensor); what packing and the networks need of a CFA is in :data:`CFAS`.
A camera of the SID dataset is a CFA plus what SID's code and files fix for it
(:data:`CAMERAS`): its black and white levels, its frame sizes, and the frame the paper's
Table 4 counts costs on. Adding a camera is one :class:`Camera` row here (and its split
lists under ``gianet/data/sid_lists``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CFA:
    """A colour-filter array and how SID packs it.

    Attributes:
        name: ``"bayer"`` or ``"xtrans"``, as checkpoints and the cache record it.
        period: side of the repeating pattern in raw pixels (2 x 2, or 6 x 6).
        channels: packed channels C of the network input (4: R, G, B, G; 9 for X-Trans).
        upscale: raw pixels one packed pixel spans per side; the network's output is this
            many times larger than its input (pixel shuffle x2 or x3).
        channel_colours: the colour (0 R, 1 G, 2 B) of each packed channel, in order.
    """

    name: str
    period: int
    channels: int
    upscale: int
    channel_colours: tuple[int, ...]


#: SID's packing: Bayer into R, G, B, G at half resolution (``pack_raw`` of train_Sony.py);
#: X-Trans into 9 channels at a third (train_Fuji.py; docs/reference.md, "Packing").
CFAS: dict[str, CFA] = {
    "bayer": CFA("bayer", period=2, channels=4, upscale=2, channel_colours=(0, 1, 2, 1)),
    "xtrans": CFA(
        "xtrans", period=6, channels=9, upscale=3, channel_colours=(0, 1, 2, 0, 2, 1, 1, 1, 1)
    ),
}


@dataclass(frozen=True)
class Camera:
    """A camera of the SID dataset.

    Attributes:
        name: SID's folder and list prefix (``Sony/``, ``Sony_train_list.txt``).
        cfa: its colour-filter array.
        sid_levels: (black, white) that SID's code subtracts and divides by
            (``sid.levels: sid``).
        sid_packed_frame: (height, width) of its SID frames in packed pixels.
        cost_frame: (height, width) in packed pixels of the frame Table 4 counts FLOPs on.
    """

    name: str
    cfa: CFA
    sid_levels: tuple[int, int]
    sid_packed_frame: tuple[int, int]
    cost_frame: tuple[int, int]

    @property
    def channels(self) -> int:
        return self.cfa.channels

    @property
    def upscale(self) -> int:
        return self.cfa.upscale


#: Sony α7S II (Bayer): ARW frames of 2848 x 4256, packed 1424 x 2128; black 512, white 16383
#: (train_Sony.py). Table 4's frame is the paper's 4240 x 2832, packed 1416 x 2120.
#: Fuji X-T2 (X-Trans): RAF frames of 4032 x 6032, cut to multiples of 6 (6030) and packed
#: 1344 x 2010; black 1024, white 16383 (train_Fuji.py). The paper gives no Fuji cost; ours
#: is counted on the full packed frame.
CAMERAS: dict[str, Camera] = {
    "Sony": Camera(
        "Sony",
        CFAS["bayer"],
        sid_levels=(512, 16383),
        sid_packed_frame=(1424, 2128),
        cost_frame=(1416, 2120),
    ),
    "Fuji": Camera(
        "Fuji",
        CFAS["xtrans"],
        sid_levels=(1024, 16383),
        sid_packed_frame=(1344, 2010),
        cost_frame=(1344, 2010),
    ),
}
#: Camera names in the paper's column order.
CAMERA_NAMES: tuple[str, ...] = tuple(CAMERAS)

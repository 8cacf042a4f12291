"""The two synthetic cameras of sid-synth: a Sony-like Bayer body and a Fuji-like X-Trans body.

Colour filter patterns are arrays of colour indices (0 = R, 1 = G, 2 = B), tiled from the
top-left pixel; the same code handles the 2 x 2 Bayer and the 6 x 6 X-Trans period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RGGB_PATTERN = np.array([[0, 1], [1, 2]], dtype=np.uint8)

# Fujifilm X-Trans III (X-T2, SID's Fuji camera) as rawpy reports it for SID's RAF files:
# the offsets of SID's train_Fuji.py pack_raw (e.g. red at (0,0), (0,4), (3,1), (3,3)).
XTRANS_PATTERN = np.array(
    [
        [0, 2, 1, 2, 0, 1],
        [1, 1, 0, 1, 1, 2],
        [1, 1, 2, 1, 1, 0],
        [2, 0, 1, 0, 2, 1],
        [1, 1, 2, 1, 1, 0],
        [1, 1, 0, 1, 1, 2],
    ],
    dtype=np.uint8,
)

# XYZ (D65) -> camera matrices, the DNG ColorMatrix convention, from LibRaw's adobe_coeff
# table (values / 10000): "Sony ILCE-7SM2" (shared with ILCE-7S) and the X-Trans III
# matrix that LibRaw lists for "Fujifilm X-Pro2" / "X100F" (the X-T2 has the same sensor).
SONY_A7S2_XYZ_TO_CAMERA = (
    np.array([[5838, -1430, -246], [-3497, 11477, 2297], [-748, 1885, 5778]], dtype=np.float64)
    / 10000
)
FUJI_XT2_XYZ_TO_CAMERA = (
    np.array([[11434, -4948, -1210], [-3746, 12042, 1903], [-666, 1479, 5235]], dtype=np.float64)
    / 10000
)


@dataclass(frozen=True)
class SynthCamera:
    """What the generator needs to know about one camera.

    ``name`` is SID's folder and list prefix; ``cfa_pattern`` is (P, P) uint8 colour indices;
    levels are raw DN of the 14-bit sensor. ``ground_truth_is_image`` is True where rawpy's
    default postprocess cannot render the raw (X-Trans DNG), so the generator also writes the
    ground truth as a 16-bit RGB image.
    """

    name: str
    model: str
    cfa_pattern: np.ndarray
    black_level: int
    white_level: int
    xyz_to_camera: np.ndarray
    ground_truth_is_image: bool

    @property
    def cfa_period(self) -> int:
        """Side of the repeating CFA tile: 2 (Bayer) or 6 (X-Trans)."""
        return int(self.cfa_pattern.shape[0])


CAMERAS: dict[str, SynthCamera] = {
    "Sony": SynthCamera(
        name="Sony",
        model="sid-synth Sony-like",
        cfa_pattern=RGGB_PATTERN,
        black_level=512,
        white_level=16383,
        xyz_to_camera=SONY_A7S2_XYZ_TO_CAMERA,
        ground_truth_is_image=False,
    ),
    "Fuji": SynthCamera(
        name="Fuji",
        model="sid-synth Fuji-like",
        cfa_pattern=XTRANS_PATTERN,
        black_level=1024,
        white_level=16383,
        xyz_to_camera=FUJI_XT2_XYZ_TO_CAMERA,
        ground_truth_is_image=True,
    ),
}

MAKE = "gianet"


def get_camera(name: str) -> SynthCamera:
    """The camera called ``name`` ("Sony" or "Fuji"); ValueError for any other name."""
    try:
        return CAMERAS[name]
    except KeyError:
        raise ValueError(
            f"camera={name!r} is unknown; use one of {sorted(CAMERAS)} (case-sensitive, as in SID)"
        ) from None

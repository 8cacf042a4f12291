"""CRC-32C of a checkpoint's bytes: NumPy lanes against a byte-at-a-time loop.

    python benchmarks/bench_crc32c.py [--megabytes N] [--repeats N]

Reading SID's released weights checks every tensor's bytes against the CRC-32C TensorFlow
recorded (:mod:`gianet.fetch.crc32c`). Timed side by side in this one run, on the same
random bytes:

- the lanes (:func:`gianet.fetch.crc32c.crc32c`), on ``--megabytes`` (default 31, the size
  of SID's Sony weights without Adam's state) and on 93 MB (its whole data file);
- the byte-at-a-time table loop, the plain way in Python, on 1 MB only (its time grows
  linearly; the ratio is per byte).
"""

from __future__ import annotations

import argparse
import os

from timing import timed

from gianet.fetch.crc32c import _advance, crc32c

MB = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=31)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    small = os.urandom(MB)
    data = os.urandom(args.megabytes * MB)
    whole = os.urandom(93 * MB)
    assert crc32c(small) == _advance(0xFFFFFFFF, small) ^ 0xFFFFFFFF
    loop = timed(lambda: _advance(0xFFFFFFFF, small), args.repeats)
    lanes_small = timed(lambda: crc32c(small), args.repeats)
    lanes = timed(lambda: crc32c(data), args.repeats)
    lanes_whole = timed(lambda: crc32c(whole), args.repeats)
    print(f"byte loop, 1 MB:            {loop * 1e3:9.1f} ms  ({loop * 1e3:.0f} ms per MB)")
    print(f"lanes, 1 MB:                {lanes_small * 1e3:9.1f} ms")
    print(f"lanes, {args.megabytes} MB:              {lanes * 1e3:9.1f} ms")
    print(f"lanes, 93 MB:               {lanes_whole * 1e3:9.1f} ms")
    per_byte = (loop / MB) / (lanes / (args.megabytes * MB))
    print(f"ratio per byte, loop / lanes ({args.megabytes} MB): {per_byte:.0f} x")


if __name__ == "__main__":
    main()

"""The sha256 a download must have: pinned in params.yaml, or recorded by the first download.

SID publishes no checksums, so unless one is pinned (``sid.archives.<camera>.sha256``) the
first complete, verified download records its sha256 in a checksum file (trust on first use)
and every later download, or an existing file, is verified against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gianet.fetch.checksums import is_sha256, read_recorded, record_sha256
from gianet.fetch.stream import DownloadError


@dataclass(frozen=True)
class ExpectedDigest:
    """The digest ``dest`` must have, where it came from, and where to record a new one."""

    name: str
    expected: str | None
    source: str
    checksum_file: Path | None

    @classmethod
    def for_dest(
        cls, dest: Path, expected_sha256: str | None, checksum_file: Path | None
    ) -> ExpectedDigest:
        """The digest given as ``expected_sha256``, else the one recorded for ``dest``.

        Raises:
            DownloadError: the pinned digest is not 64 hex digits, or the checksum file
                records another digest for ``dest`` than the pinned one.
        """
        recorded = read_recorded(checksum_file, dest.name)
        if not expected_sha256:
            return cls(dest.name, recorded, f"recorded in {checksum_file}", checksum_file)
        pinned = expected_sha256.lower()
        if not is_sha256(pinned):
            raise DownloadError(
                f"{dest.name}: the pinned sha256 {expected_sha256!r} is not 64 hex digits; "
                "fix it (sid.archives.<camera>.sha256 in params.yaml)"
            )
        if recorded and recorded != pinned:
            raise DownloadError(
                f"{dest.name}: the pinned sha256 {pinned} differs from {recorded} recorded in "
                f"{checksum_file}; remove that stale line from {checksum_file} (or fix the pin)"
            )
        return cls(dest.name, pinned, "pinned in params.yaml", checksum_file)

    def matches(self, sha256: str) -> bool:
        """Whether ``sha256`` is the expected digest (always, when none is known yet)."""
        return self.expected is None or sha256 == self.expected

    def mismatch(self, sha256: str, dest: Path, part: Path, what: str) -> DownloadError:
        """The error for ``what`` bytes, now kept at ``part``, whose digest is wrong."""
        return DownloadError(
            f"{dest.name}: the {what} file's sha256 is {sha256} but {self.expected} is "
            f"{self.source}. Its bytes were kept as {part}, not at {dest}. If the download "
            f"was damaged, delete {part} and run again to fetch it afresh; if the provider "
            f"changed the archive, update the checksum of {dest.name} and run again to "
            "accept the kept bytes."
        )

    def record_if_new(self, sha256: str) -> bool:
        """Record ``sha256`` when the checksum file holds no digest for ``name`` yet."""
        if self.checksum_file is None or read_recorded(self.checksum_file, self.name):
            return False
        record_sha256(self.checksum_file, self.name, sha256)
        return True

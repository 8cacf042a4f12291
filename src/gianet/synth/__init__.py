"""sid-synth: the embedded default dataset, SID's layout written as real DNG files."""

from gianet.synth.generate import generate_dataset, write_manifest

__all__ = ["generate_dataset", "write_manifest"]

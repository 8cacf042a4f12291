"""The data stages: make a camera's dataset (sid-synth, or SID fetched and unpacked), pack it
into the cache, and verify the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from gianet.settings.sections import CameraName, Params, Runtime, Synth
from gianet.stages.declaration import (
    Input,
    Inputs,
    JobSettings,
    Kept,
    Option,
    OptionalInput,
    Output,
    Outputs,
    stage,
)


class SynthJob(JobSettings):
    """What a camera's sid-synth dataset depends on: the ``synth`` section."""

    WILDCARDS = ("camera",)
    camera: CameraName
    synth: Synth

    @classmethod
    def from_params(cls, params: Params, camera: str) -> SynthJob:
        return cls(camera=camera, synth=params.synth)


class CameraJob(JobSettings):
    """A job that depends only on which camera it is for."""

    WILDCARDS = ("camera",)
    camera: CameraName

    @classmethod
    def from_params(cls, params: Params, camera: str) -> CameraJob:
        return cls(camera=camera)


class ArchiveJob(JobSettings):
    """What decides which archive a download accepts: its URL and pinned sha256."""

    WILDCARDS = ("camera",)
    camera: CameraName
    url: str
    sha256: str | None

    @classmethod
    def from_params(cls, params: Params, camera: str) -> ArchiveJob:
        archive = params.sid.archives[camera]
        return cls(camera=camera, url=archive.url, sha256=archive.sha256)


class PackJob(JobSettings):
    """What the packed arrays depend on besides the dataset: the levels (``sid.levels``)."""

    WILDCARDS = ("camera",)
    camera: CameraName
    levels: str

    @classmethod
    def from_params(cls, params: Params, camera: str) -> PackJob:
        return cls(camera=camera, levels=params.sid.levels)


def dataset_root(lists: list[Path], camera: str) -> Path:
    """The folder holding the camera's three split lists (checked against SID's names)."""
    from gianet.paths import SPLITS, list_name
    from gianet.settings.load import ConfigError

    roots = {Path(path).parent for path in lists}
    expected = [list_name(camera, split) for split in SPLITS]
    if len(roots) != 1 or sorted(Path(path).name for path in lists) != sorted(expected):
        raise ConfigError(
            f"--lists: expected {', '.join(expected)} in one folder, got "
            f"{', '.join(map(str, lists))}"
        )
    return roots.pop()


@stage("synth")
def synth(*, lists: Outputs, record: Output, settings: SynthJob, runtime: Runtime) -> None:
    """Generate the sid-synth dataset for one camera and record its files.

    Args:
        lists: the camera's three split lists to write, in the dataset folder (SID's names).
        record: the dataset record to write: every listed file's size and sha256.
    """
    from gianet.data.sources import record_sources
    from gianet.synth.generate import generate_dataset

    root = dataset_root(lists, settings.camera)
    synth = settings.synth
    generate_dataset(
        root,
        camera=settings.camera,
        scenes=synth.scenes.model_dump(),
        height=synth.height,
        width=synth.width,
        ratios=tuple(synth.ratios),
        shorts_per_scene=synth.shorts_per_scene,
        seed=synth.seed,
    )
    record_sources(root, settings.camera, record, progress=runtime.progress)


@stage("sid-download")
def sid_download(
    *, archive: Output, checksums: Kept, settings: ArchiveJob, runtime: Runtime
) -> None:
    """Download one camera's SID archive (resumable, sha256-verified) from its http(s) URL
    (``sid.archives.<camera>.url``; other schemes are refused). An archive already on disk
    is named by ``sid.archives.<camera>.path`` instead, and nothing is downloaded.

    Args:
        archive: where the archive goes.
        checksums: the file of recorded sha256s: written on the first verified download,
            checked on every later one (``sid.checksums``).
    """
    from gianet.fetch.download import download

    result = download(
        settings.url,
        archive,
        expected_sha256=settings.sha256,
        checksum_file=checksums,
        retries=runtime.download_retries,
        timeout=runtime.download_timeout,
        progress=runtime.progress,
    )
    print(result.path)


@stage("sid-unpack")
def sid_unpack(
    *,
    archive: OptionalInput = None,
    lists: Outputs,
    record: Output,
    settings: CameraJob,
    runtime: Runtime,
) -> None:
    """Extract one camera's SID archive safely, write its split lists and record its files.

    Args:
        archive: the camera's archive; none when the data is already in the dataset folder
            (``sid.root``).
        lists: the camera's three split lists to write, beside its folder (SID's names).
        record: the dataset record to write: every listed file's size and sha256.
    """
    from gianet.data.sources import record_sources
    from gianet.fetch.sid import install_split_lists, unpack_archive

    root = dataset_root(lists, settings.camera)
    if archive is not None:
        unpack_archive(archive, root, settings.camera, progress=runtime.progress)
    install_split_lists(root, settings.camera)
    record_sources(root, settings.camera, record, progress=runtime.progress)


@stage("pack")
def pack(
    *,
    lists: Inputs,
    record: Input,
    manifest: Output,
    settings: PackJob,
    runtime: Runtime,
    full_check: Annotated[bool, Option] = False,
) -> None:
    """Decode a camera's raws once into the packed cache.

    Args:
        lists: the camera's three split lists (SID's names).
        record: the dataset record; every decoded file is checked against it.
        manifest: the cache's index to write (``manifest.json`` in the cache folder).
        full_check: check reused arrays by the sha256 of every byte, not only while their
            fingerprint is the one last verified.
    """
    from gianet.data.cache import build_cache
    from gianet.data.lists import parse_list
    from gianet.paths import MANIFEST, SPLITS, list_name

    if manifest.name != MANIFEST:
        from gianet.settings.load import ConfigError

        raise ConfigError(f"--manifest: the cache's index is named {MANIFEST}: {manifest}")
    root = dataset_root(lists, settings.camera)
    splits = {split: parse_list(root / list_name(settings.camera, split), root) for split in SPLITS}
    build_cache(
        root,
        splits,
        manifest.parent,
        record=record,
        levels=settings.levels,
        workers=runtime.threads,
        progress=runtime.progress,
        full_check=full_check,
    )


@stage("verify-cache")
def verify_cache(
    *,
    manifest: Input,
    record: Input,
    runtime: Runtime,
    full: Annotated[bool, Option] = False,
) -> None:
    """Check every file of a packed cache and rebuild what is missing or damaged (what a
    training or an evaluation does, before it starts, for the files it reads).

    Args:
        manifest: the cache's index (``manifest.json``).
        record: the dataset record the cache was packed from.
        full: hash every raw and array, not only those whose file changed since they were
            last verified.
    """
    from gianet.data.lists import Pair
    from gianet.data.manifest import load_manifest
    from gianet.data.verify import prepare_cache

    loaded = load_manifest(manifest.parent)
    pairs = [Pair(**pair) for split in loaded["splits"].values() for pair in split]
    rebuilt = prepare_cache(
        manifest.parent, loaded, record, pairs, full=full, progress=runtime.progress
    )
    for line in rebuilt:
        print(line)
    print(f"{manifest.parent}: {len(rebuilt)} array(s) rebuilt, every other file verified")

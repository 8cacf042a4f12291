"""Reading TensorFlow V2 checkpoints without TensorFlow (gianet.fetch.tf_checkpoint) and
the CRC-32C that guards them (gianet.fetch.crc32c).

Two sources of checkpoints: the files of tests/data/sid_tf1, written by TensorFlow's own
``tf.train.Saver`` (tests/data/sid_tf1/make_checkpoints.py), and tests/tf_bundle_writer.py,
which writes multi-block tables, every dtype and damaged files on demand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gianet.errors import GianetError
from gianet.fetch.crc32c import crc32c, mask, unmask
from gianet.fetch.tf_checkpoint import TFCheckpoint, TFCheckpointError, resolve_prefix
from tests.tf_bundle_writer import header_record, write_checkpoint

SID_TF1 = Path(__file__).parent / "data" / "sid_tf1"


def _crc_bitwise(data: bytes) -> int:
    """CRC-32C bit by bit, straight from the definition (reflected 0x82F63B78)."""
    register = 0xFFFFFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ (0x82F63B78 if register & 1 else 0)
    return register ^ 0xFFFFFFFF


def test_crc32c_check_values():
    # The standard check value, and RFC 3720 (iSCSI) appendix B.4's test vectors.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(b"") == 0


@pytest.mark.parametrize("size", [1, 4095, 16384, 16385, 4096 * 7 + 3, 200_003])
def test_crc32c_lanes_agree_with_the_definition(size):
    data = os.urandom(size)
    assert crc32c(data) == _crc_bitwise(data)
    assert crc32c(memoryview(bytearray(data))) == crc32c(data)


def test_mask_is_tensorflows_and_inverts():
    # LevelDB's/TensorFlow's crc32c::Mask: rotate right 15, add 0xa282ead8.
    assert mask(0) == 0xA282EAD8
    assert mask(0x12345678) == (((0x12345678 >> 15) | (0x12345678 << 17)) + 0xA282EAD8) % 2**32
    for value in (0, 1, 0xFFFFFFFF, 0xE3069283):
        assert unmask(mask(value)) == value


@pytest.mark.parametrize("camera", ["Sony", "Fuji"])
def test_reads_tensorflows_own_checkpoint(camera):
    checkpoint = TFCheckpoint(SID_TF1 / camera / "model.ckpt")
    entries = checkpoint.entries
    # SID's 42 network variables, Adam's two slots for each trained one, the beta powers.
    trained = 42 if camera == "Sony" else 38  # train_Fuji.py trains only the g_ variables
    assert len(entries) == 42 + 2 * trained + 2
    assert entries["g_conv1_1/weights"].shape == (3, 3, 4 if camera == "Sony" else 9, 2)
    assert entries["Variable"].shape == (2, 2, 16, 32)
    assert entries["beta1_power"].shape == ()
    # After one Adam step with beta1 = 0.9, TensorFlow stores beta1_power = 0.9**2.
    assert checkpoint.read("beta1_power") == pytest.approx(0.81)
    weights = checkpoint.read("g_conv10/weights")
    assert weights.dtype == np.float32 and weights.flags.writeable
    assert checkpoint.files() == [
        Path(f"{checkpoint.prefix}.index"),
        Path(f"{checkpoint.prefix}.data-00000-of-00001"),
    ]


def test_round_trip_multi_block_table_every_dtype(tmp_path):
    rng = np.random.default_rng(1)
    dtypes = [np.float32, np.float64, np.int32, np.int64, np.float16, np.uint8]
    tensors = {
        f"scope_{i:03d}/layer/weights": (rng.normal(size=(i % 4 + 1, 3)) * 50).astype(
            dtypes[i % len(dtypes)]
        )
        for i in range(400)
    }
    tensors["beta1_power"] = np.array(0.9, np.float32)
    tensors["empty"] = np.zeros((0, 3), np.float32)
    tensors["negative"] = np.array([-(2**40), 7], np.int64)
    write_checkpoint(tmp_path / "model.ckpt", tensors, block_size=256)
    checkpoint = TFCheckpoint(tmp_path / "model.ckpt")
    assert set(checkpoint.entries) == set(tensors)
    for name, value in tensors.items():
        read = checkpoint.read(name)
        assert read.dtype == value.dtype and read.shape == value.shape, name
        np.testing.assert_array_equal(read, value)


def test_prefix_from_folder_index_or_data_file(tmp_path):
    write_checkpoint(tmp_path / "Sony" / "model.ckpt", {"a": np.ones(2, np.float32)})
    prefix = tmp_path / "Sony" / "model.ckpt"
    for given in (prefix, tmp_path / "Sony", Path(f"{prefix}.index")):
        assert resolve_prefix(given) == prefix
    assert resolve_prefix(Path(f"{prefix}.data-00000-of-00001")) == prefix


def test_missing_or_ambiguous_checkpoint_is_one_line(tmp_path):
    with pytest.raises(TFCheckpointError, match=r"model\.ckpt\.index: no such file") as caught:
        TFCheckpoint(tmp_path / "model.ckpt")
    assert "\n" not in str(caught.value)
    with pytest.raises(TFCheckpointError, match="0 checkpoint index files"):
        TFCheckpoint(tmp_path)
    for name in ("a", "b"):
        write_checkpoint(tmp_path / name, {"x": np.ones(1, np.float32)})
    with pytest.raises(TFCheckpointError, match=r"2 checkpoint index files \(a.index, b.index\)"):
        TFCheckpoint(tmp_path)


def _written(tmp_path: Path, **options) -> Path:
    prefix = tmp_path / "model.ckpt"
    values = {"g_conv1_1/weights": np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)}
    write_checkpoint(prefix, values | {"z": np.ones(3, np.float32)}, **options)
    return prefix


def test_damaged_tensor_bytes_fail_their_crc(tmp_path):
    prefix = _written(tmp_path)
    data = Path(f"{prefix}.data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[5] ^= 0x01
    data.write_bytes(bytes(raw))
    checkpoint = TFCheckpoint(prefix)
    with pytest.raises(TFCheckpointError, match=r"data-00000-of-00001: the bytes of g_conv1_1"):
        checkpoint.read("g_conv1_1/weights")
    np.testing.assert_array_equal(checkpoint.read("z"), np.ones(3, np.float32))


def test_truncated_or_missing_data_file(tmp_path):
    prefix = _written(tmp_path)
    data = Path(f"{prefix}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:50])
    checkpoint = TFCheckpoint(prefix)
    with pytest.raises(TFCheckpointError, match=r"ends before z does .* truncated"):
        checkpoint.read("z")
    data.unlink()
    with pytest.raises(TFCheckpointError, match=r"data-00000-of-00001: no such file, but z"):
        checkpoint.read("z")
    with pytest.raises(TFCheckpointError, match="no variable named 'missing'"):
        checkpoint.read("missing")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[:-3], "no table footer"),
        (lambda raw: raw[:20], "shorter than a table's 48-byte footer"),
        (lambda raw: b"\x00" * 8 + raw[8:], "data block 0 fails its CRC-32C check"),
    ],
)
def test_damaged_index_is_one_line(tmp_path, damage, message):
    prefix = _written(tmp_path)
    index = Path(f"{prefix}.index")
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(TFCheckpointError, match=message) as caught:
        TFCheckpoint(prefix)
    assert str(caught.value).startswith(f"{index}: not a readable TensorFlow checkpoint index")
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, GianetError)


def test_refuses_compressed_big_endian_or_newer_bundles(tmp_path):
    with pytest.raises(TFCheckpointError, match=r"compressed \(Snappy\)"):
        TFCheckpoint(_written(tmp_path / "snappy", compression=1))
    with pytest.raises(TFCheckpointError, match="big-endian"):
        TFCheckpoint(_written(tmp_path / "big", header=header_record(big_endian=True)))
    with pytest.raises(TFCheckpointError, match="bundle version 2"):
        TFCheckpoint(_written(tmp_path / "new", header=header_record(min_consumer=2)))


def test_size_disagreeing_with_shape_is_refused(tmp_path):
    prefix = _written(tmp_path)
    checkpoint = TFCheckpoint(prefix)
    entry = checkpoint.entries["z"]
    checkpoint.entries["z"] = type(entry)(**{**entry.__dict__, "shape": (4,)})
    with pytest.raises(TFCheckpointError, match=r"z records 12 bytes .* needs 16"):
        checkpoint.read("z")

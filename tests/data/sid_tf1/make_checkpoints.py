"""Write the small SID-format TensorFlow checkpoints in this folder, with TensorFlow itself.

Not part of the test suite and not needed to run it: this is how the committed files were
made, so that they can be made again. It needs TensorFlow (any release with ``tf.compat.v1``),
installed in a separate environment:

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu
    /tmp/tf/bin/python tests/data/sid_tf1/make_checkpoints.py

The graph is SID's ``network`` of ``train_Sony.py`` / ``train_Fuji.py`` (Chen et al., CVPR
2018) at a reduced width ``BASE`` (SID: 32), written here with ``tf.compat.v1`` since
``tf.contrib.slim`` is gone: each ``slim.conv2d(..., scope=S)`` is a 'SAME' convolution with
variables ``S/weights`` (HWIO) and ``S/biases``; ``upsample_and_concat`` makes an unnamed
``tf.Variable`` (``Variable``, ``Variable_1``, ...) of shape ``[2, 2, out, in]`` for a
``conv2d_transpose`` to the skip's shape, then concatenates (upsampled first). Initial values
are random (SID's biases start at zero and its transposed filters at stddev 0.02; both would
hide a wrong mapping), then one Adam step is taken on the L1 loss, as SID's scripts do, so
the checkpoint holds Adam's slots (``.../Adam``, ``.../Adam_1``) and ``beta1_power`` /
``beta2_power`` as SID's released ones do; for Fuji only the ``g_`` variables are trained, as
``train_Fuji.py``'s ``var_list`` says. ``tf.train.Saver().save`` writes the V2 bundle
(``model.ckpt.index``, ``model.ckpt.data-00000-of-00001``).

``reference.npz`` holds a fixed input of odd size (so 'SAME' pooling and the transposed
convolutions' crop both act) and TensorFlow's output for it after the Adam step:
``input`` (1, H, W, C) and ``output`` (1, r*H, r*W, 3), float32, NHWC, plus ``tensorflow``,
the version that made them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tensorflow.compat.v1 as tf

HERE = Path(__file__).parent
#: Width of the first level (SID: 32).
BASE = 2
#: camera: (packed input channels, depth_to_space block, input height and width).
CAMERAS = {"Sony": (4, 2, (13, 11)), "Fuji": (9, 3, (11, 14))}


def lrelu(x):
    return tf.maximum(x * 0.2, x)


def conv(x, channels: int, kernel: int, scope: str, activation=lrelu):
    """``slim.conv2d(x, channels, [kernel, kernel], activation_fn=activation, scope=scope)``."""
    inputs = int(x.shape[-1])
    with tf.variable_scope(scope):
        spread = math.sqrt(2.0 / (kernel * kernel * inputs))
        weights = tf.get_variable(
            "weights",
            [kernel, kernel, inputs, channels],
            tf.float32,
            tf.random_normal_initializer(stddev=spread),
        )
        biases = tf.get_variable(
            "biases", [channels], tf.float32, tf.random_normal_initializer(stddev=0.1)
        )
    out = tf.nn.bias_add(tf.nn.conv2d(x, weights, [1, 1, 1, 1], "SAME"), biases)
    return activation(out) if activation is not None else out


def upsample_and_concat(x1, x2, output_channels: int, in_channels: int):
    spread = math.sqrt(2.0 / in_channels)
    deconv_filter = tf.Variable(
        tf.truncated_normal([2, 2, output_channels, in_channels], stddev=spread)
    )
    deconv = tf.nn.conv2d_transpose(x1, deconv_filter, tf.shape(x2), strides=[1, 2, 2, 1])
    out = tf.concat([deconv, x2], 3)
    out.set_shape([None, None, None, output_channels * 2])
    return out


def pool(x):
    return tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], padding="SAME")


def network(x, block: int):
    widths = [BASE * 2**level for level in range(5)]
    skips = []
    for level in range(4):
        x = conv(x, widths[level], 3, f"g_conv{level + 1}_1")
        x = conv(x, widths[level], 3, f"g_conv{level + 1}_2")
        skips.append(x)
        x = pool(x)
    x = conv(x, widths[4], 3, "g_conv5_1")
    x = conv(x, widths[4], 3, "g_conv5_2")
    for level in range(4):
        out, into = widths[3 - level], widths[4 - level]
        x = upsample_and_concat(x, skips[3 - level], out, into)
        x = conv(x, out, 3, f"g_conv{level + 6}_1")
        x = conv(x, out, 3, f"g_conv{level + 6}_2")
    x = conv(x, 3 * block * block, 1, "g_conv10", activation=None)
    return tf.depth_to_space(x, block)


def make(camera: str, seed: int) -> None:
    channels, block, (height, width) = CAMERAS[camera]
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (1, height, width, channels)).astype(np.float32)
    truth = rng.uniform(0, 1, (1, block * height, block * width, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        in_image = tf.placeholder(tf.float32, [None, None, None, channels])
        gt_image = tf.placeholder(tf.float32, [None, None, None, 3])
        out_image = network(in_image, block)
        loss = tf.reduce_mean(tf.abs(out_image - gt_image))
        trained = tf.trainable_variables()
        if camera == "Fuji":  # train_Fuji.py trains only the g_ variables
            trained = [v for v in trained if v.name.startswith("g_")]
        step = tf.train.AdamOptimizer(learning_rate=1e-3).minimize(loss, var_list=trained)
        saver = tf.train.Saver()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(step, {in_image: image, gt_image: truth})
            output = session.run(out_image, {in_image: image})
            folder = HERE / camera
            folder.mkdir(exist_ok=True)
            saver.save(session, str(folder / "model.ckpt"), write_meta_graph=False)
    (HERE / camera / "checkpoint").unlink(missing_ok=True)  # the Saver's state file
    np.savez(
        HERE / camera / "reference.npz",
        input=image,
        output=output.astype(np.float32),
        tensorflow=np.array(tf.VERSION),
    )


if __name__ == "__main__":
    make("Sony", 2018)
    make("Fuji", 2019)

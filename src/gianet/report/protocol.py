"""The protocol our numbers follow, in words, as the evaluations recorded it.

Every evaluation records in its summary's ``protocol`` what its numbers follow
(:func:`gianet.evaluation.evaluate.protocol_of`): the test exposures and excluded scenes
(from the packed cache), the black and white levels, LPIPS's backbone, and the training
readings of the checkpoint. :func:`protocol_sentence` words them as one plain-text sentence
for each table's caption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gianet.domain.cameras import CAMERA_NAMES

#: How each recorded setting's values read.
WORDING: dict[str, dict[Any, str]] = {
    "test_exposures": {"all": "all exposures", "first": "the _00 shots"},
    "levels": {"sid": "black and white levels of SID's code", "file": "each raw's own levels"},
    "lpips_backbone": {"alex": "LPIPS on AlexNet", "vgg": "LPIPS on VGG-16"},
    "shots": {"first": "inputs drawn from the _00 shots (SID)", "all": "inputs from every shot"},
    "flips": {
        "sid": "horizontal and vertical flips and transposes (SID)",
        "sid-before-fix": "vertical flips and transposes (SID's code before its flip fix)",
    },
    "init": {"sid": "SID's initialisation (TF-slim)", "pytorch": "PyTorch's initialisation"},
    "msssim_exponents": {
        "paper": "MS-SSIM exponents 1 (Eq. 3–5)",
        "wang": "MS-SSIM exponents of Wang et al. (piq)",
    },
    "loss_gamma_term": {"l1": "on L1 (Eq. 1)", "ms-ssim": "on MS-SSIM (Zhao et al.)"},
}
NOT_RECORDED = "not recorded"
#: Training settings of the schedule, printed when the evaluations record them (the demo
#: and the paper's configuration differ in these).
SCHEDULE = (("epochs", "{} epochs"), ("patch", "patch {}"), ("width", "width {}"))


def protocol_sentence(summaries: Iterable[Mapping[str, Any]]) -> str:
    """The protocol of ``summaries`` (evaluation summaries with ``camera``, ``n_images`` and
    optionally ``protocol``) as one sentence: per camera the test images, exposures and
    excluded scenes; then the levels, LPIPS's backbone and the training readings. A setting
    that differs between runs reads ``mixed: a / b``; one a summary does not record,
    ``not recorded``."""
    summaries = list(summaries)
    recorded = any(s.get("protocol") for s in summaries)
    cameras = []
    for camera in CAMERA_NAMES:
        runs = [s for s in summaries if s["camera"] == camera]
        if not runs:
            continue
        images = f"{camera} {span([int(s['n_images']) for s in runs])} test images"
        if recorded:
            exposures = recorded_value(runs, "test_exposures")
            excluded = recorded_value(runs, "exclude_scenes", excluded_words)
            images += f" ({exposures}; {excluded})"
        cameras.append(images)
    if not recorded:
        return f"Protocol: {'; '.join(cameras)}; the evaluations recorded nothing more."
    settings = [recorded_value(summaries, "levels")]
    if any((s.get("protocol") or {}).get("lpips_backbone") for s in summaries):
        settings.append(recorded_value(summaries, "lpips_backbone"))
    training = [
        recorded_value(summaries, "shots", training=True),
        recorded_value(summaries, "flips", training=True),
        recorded_value(summaries, "init", training=True),
    ]
    # The MS-SSIM term's readings and model 2's kernel only where a variant used them
    # (evaluations of other variants do not record them).
    if any_recorded(summaries, "msssim_exponents"):
        training.append(recorded_value(summaries, "msssim_exponents", training=True))
    if any_recorded(summaries, "loss_gamma"):
        gamma = recorded_value(summaries, "loss_gamma", lambda v: f"{v:g}", training=True)
        term = recorded_value(summaries, "loss_gamma_term", training=True)
        training.append(f"γ = {gamma} {term}")
    if any_recorded(summaries, "extra_convs_kernel"):
        kernel = recorded_value(
            summaries, "extra_convs_kernel", lambda k: f"{k} × {k}", training=True
        )
        training.append(f"model 2's added convolutions {kernel}")
    training.append(f"precision {recorded_value(summaries, 'precision', training=True)}")
    for key, words in SCHEDULE:
        if any_recorded(summaries, key):
            training.append(recorded_value(summaries, key, words.format, training=True))
    return (
        f"Protocol: {'; '.join(cameras)}; {'; '.join(settings)}. Training: {', '.join(training)}."
    )


def any_recorded(summaries: Sequence[Mapping[str, Any]], key: str) -> bool:
    """Whether any summary records the training reading ``key``."""
    return any(
        ((s.get("protocol") or {}).get("training") or {}).get(key) is not None for s in summaries
    )


def recorded_value(
    summaries: Sequence[Mapping[str, Any]],
    key: str,
    words: Callable[[Any], str] | None = None,
    training: bool = False,
) -> str:
    """How the summaries' recorded ``key`` (under ``protocol``, or ``protocol.training``)
    reads, through ``words`` or :data:`WORDING`."""
    values = []
    for summary in summaries:
        protocol = summary.get("protocol") or {}
        value = (protocol.get("training") or {}).get(key) if training else protocol.get(key)
        if value is not None and value not in values:
            values.append(value)
    if not values:
        return f"{key} {NOT_RECORDED}"

    def word(value: Any) -> str:
        if words is not None:
            return words(value)
        return WORDING.get(key, {}).get(value, str(value))

    return word(values[0]) if len(values) == 1 else "mixed: " + " / ".join(map(word, values))


def excluded_words(scenes: list[int]) -> str:
    if not scenes:
        return "no scene excluded"
    return ("scene " if len(scenes) == 1 else "scenes ") + ", ".join(map(str, scenes)) + " excluded"


def span(values: Sequence[int]) -> str:
    """``"24"``, or ``"24–595"`` when the values differ."""
    return f"{min(values)}" + (f"–{max(values)}" if len(set(values)) > 1 else "")

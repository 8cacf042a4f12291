"""The one registry of network architectures (BasicSR-style).

An architecture is an ``nn.Module`` class registered under a short name. A model is built from
that name plus keyword arguments that are exactly the class constructor's arguments, so a run
configuration such as ``{"arch": "unet", "gia": True}`` is validated against the code itself:
an unknown name, an unknown argument or a missing required argument is a ``ValueError`` that
lists what is valid.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

ModuleClass = TypeVar("ModuleClass", bound=type[nn.Module])

_ARCHITECTURES: dict[str, type[nn.Module]] = {}


def register(name: str) -> Callable[[ModuleClass], ModuleClass]:
    """Class decorator: register an ``nn.Module`` class as architecture ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorator(cls: ModuleClass) -> ModuleClass:
        if name in _ARCHITECTURES:
            raise ValueError(
                f"architecture {name!r} is already registered ({_ARCHITECTURES[name].__name__})"
            )
        _ARCHITECTURES[name] = cls
        return cls

    return decorator


def available_architectures() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_ARCHITECTURES)


def architecture_class(arch: str) -> type[nn.Module]:
    """The class registered as ``arch``.

    Raises:
        ValueError: if ``arch`` is not registered; the message lists the registered names.
    """
    try:
        return _ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(
            f"unknown architecture {arch!r}; registered: {', '.join(available_architectures())}"
        ) from None


def build_model(arch: str, **kwargs: Any) -> nn.Module:
    """Build architecture ``arch`` with constructor arguments ``kwargs``.

    Every architecture takes at least ``in_channels`` (4 for packed Bayer, 9 for packed
    X-Trans) and ``upscale`` (2 for Bayer, 3 for X-Trans).

    Raises:
        ValueError: unknown ``arch``, an argument the constructor does not take, or a required
            argument missing; the message names the offenders and lists the valid arguments.
    """
    cls = architecture_class(arch)
    parameters = inspect.signature(cls).parameters
    valid = ", ".join(parameters)
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(f"{arch}: unknown argument(s) {unknown}; valid arguments: {valid}")
    missing = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in kwargs
    ]
    if missing:
        raise ValueError(f"{arch}: missing required argument(s) {missing}; arguments: {valid}")
    return cls(**kwargs)

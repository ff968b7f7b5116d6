"""A dashboard config as YAML, written as a person would: templates as literal blocks.

The settings are Home Assistant's own YAML dump (`homeassistant.util.yaml.dump`), on a dumper
class of our own, so our representer does not change how Home Assistant writes its files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """The fastest safe dumper, plus literal blocks."""


class _Block(str):
    """A multi-line string that YAML writes as a literal block."""

    __slots__ = ()


_Dumper.add_representer(
    _Block,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|"),
)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _blocks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blocks(item) for item in value]
    if isinstance(value, str) and "\n" in value:
        return _Block(value)
    return value


def dashboard_yaml(config: Mapping[str, Any]) -> str:
    """Return a dashboard config as YAML for the raw configuration editor."""
    text: str = yaml.dump(
        _blocks(dict(config)),
        Dumper=_Dumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
    )
    return text.replace(": null\n", ":\n")

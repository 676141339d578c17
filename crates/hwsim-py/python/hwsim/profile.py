"""Hardware descriptions (docs/microarchitecture.md)."""

from __future__ import annotations

import json
from typing import Any, Dict

from . import _native
from ._convert import profile_name


def hw_config(profile: Any = "reference") -> Dict[str, Any]:
    """The effective hardware description of a profile name or JSON file, as `sim config show`
    prints it; save it with json.dump, edit it, and pass the file's path as `profile`."""
    config: Dict[str, Any] = json.loads(_native.config_json(profile_name(profile)))
    return config

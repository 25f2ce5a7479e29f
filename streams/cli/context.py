"""What every ``desk`` command starts from: the settings, the broker, the consoles, JSON out.

Commands reach these through the module at call time (``context.bootstrap(...)``,
``context.out``), so a test replaces the broker or a console for all of them at once.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from streams.display import console, num
from streams.errors import DeskError
from streams.settings import DeskSettings, load_settings

out = console()
err = console(stderr=True)


def settings() -> DeskSettings:
    loaded = load_settings()
    if loaded.schema_registry_url:  # events this command writes go in the registry's framing
        from streams.schema_registry import configure

        configure(loaded)
    return loaded


def checked_settings() -> DeskSettings:
    """Settings plus a full validation of the desk config: a bad value stops us at start."""
    from streams.config import load_config

    loaded = settings()
    load_config(loaded.config_file)
    return loaded


def _json_default(value: Any) -> str:
    """Decimals as short as they are (``0``, not ``0E-18``); anything else as ``str``."""
    return num(value) if isinstance(value, Decimal) else str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def bootstrap(settings: DeskSettings) -> str:
    """The broker to talk to: the configured cluster, else the running embedded one."""
    from streams.runtime.stack import pid_alive, read_state

    if settings.broker_url:
        return settings.broker_url
    state = read_state(settings)
    if state and pid_alive(int(state["pid"])):
        return str(state["broker"])
    raise DeskError(
        f"no broker: nothing runs on {settings.data_path} (start it: desk up) "
        "and DESK_BROKER_URL is not set"
    )

"""The event catalog: one Avro schema per event type in ``schemas/avro/``.

``schemas/avro/<Name>.avsc`` is the current version of each event type;
``schemas/avro/history/<Name>/<fingerprint>.avsc`` keeps every committed
version so old recorded events can still be decoded (see ``streams.avro``).
"""

from importlib.resources import files
from pathlib import Path


def avro_dir() -> Path:
    """Directory that holds the ``.avsc`` files (works installed or from a checkout)."""
    return Path(str(files(__name__) / "avro"))

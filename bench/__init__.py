"""Benchmarks: JSON results with ratios measured side by side in one run."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CRYPTO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crypto_1m"


def recorded_main(
    doc: str,
    run: Callable[..., dict[str, Any]],
    *,
    needs_data: bool = True,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """The command line of a benchmark: print JSON, ``--out`` a file. ``options`` adds the
    benchmark's own arguments; ``run`` then gets the parsed namespace."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    if options is not None:
        options(ap)
    args = ap.parse_args()
    if needs_data and not CRYPTO.exists():
        raise SystemExit(f"{CRYPTO}: recorded data not found (it lives beside the checkout)")
    text = json.dumps(run(args) if options is not None else run(), indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")

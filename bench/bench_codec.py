"""Codec benchmark: Avro single-object encode/decode vs JSON, side by side in one run.

    .venv/bin/python -m bench.bench_codec [--n 20000] [--out bench/results/codec.json]

Reports events/s and the Avro/JSON ratio per event type; ratios are what to
compare across machines, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.avro import registry
from streams.schema_history import sample_record


def _json_default(x: Any) -> Any:
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, bytes):
        return x.hex()
    raise TypeError(type(x).__name__)


def _rate(fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def run(n: int) -> dict[str, Any]:
    reg = registry()
    results = []
    for name in ("Bar", "Fill", "RiskDecision", "PortfolioSnapshot"):
        rec = sample_record(reg.current(name))
        avro_bytes = reg.encode(name, rec)
        json_bytes = json.dumps(rec, default=_json_default).encode()
        enc_avro = _rate(lambda rec=rec, name=name: reg.encode(name, rec), n)
        enc_json = _rate(lambda rec=rec: json.dumps(rec, default=_json_default).encode(), n)
        dec_avro = _rate(lambda b=avro_bytes: reg.decode(b), n)
        dec_json = _rate(lambda b=json_bytes: json.loads(b), n)
        results.append(
            {
                "type": name,
                "bytes_avro": len(avro_bytes),
                "bytes_json": len(json_bytes),
                "encode_per_s_avro": round(enc_avro),
                "encode_per_s_json": round(enc_json),
                "decode_per_s_avro": round(dec_avro),
                "decode_per_s_json": round(dec_json),
                "encode_ratio_avro_over_json": round(enc_avro / enc_json, 3),
                "decode_ratio_avro_over_json": round(dec_avro / dec_json, 3),
                "size_ratio_avro_over_json": round(len(avro_bytes) / len(json_bytes), 3),
            }
        )
    return {
        "benchmark": "codec",
        "n": n,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000, help="iterations per measurement")
    ap.add_argument("--out", type=Path, default=Path("bench/results/codec.json"))
    args = ap.parse_args()
    report = run(args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

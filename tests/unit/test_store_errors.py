"""A ClickHouse error is a refusal (set the rows aside) or an outage (retry): the sinks must
not dead-letter good events because the store was busy."""

from __future__ import annotations

import pytest

from connectors.clickhouse.store import StoreRefused, StoreUnavailable, refusal_or_outage


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Code: 241. DB::Exception: Memory limit (total) exceeded: would use 3.5 GiB",
         StoreUnavailable),
        ("Code: 252. DB::Exception: Too many parts (300) in table default.fills", StoreUnavailable),
        ("Code: 252. DB::Exception: Too many partitions for single INSERT block (more than "
         "100). The limit is controlled by 'max_partitions_per_insert_block' setting.",
         StoreRefused),  # the same batch again would never go in: not an outage
        ("Code: 159. DB::Exception: Timeout exceeded: elapsed 30.0 seconds", StoreUnavailable),
        ("HTTPDriver for http://ch:8123 returned response code 500)\n Code: 202. DB::Exception: "
         "Too many simultaneous queries", StoreUnavailable),
        ("Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'x'",
         StoreRefused),
        ("Code: 60. DB::Exception: Unknown table expression identifier 'nope'", StoreRefused),
        ("something without a code", StoreRefused),
    ],
)  # fmt: skip
def test_transient_codes_are_outages_the_rest_refusals(message: str, kind: type) -> None:
    got = refusal_or_outage(RuntimeError(message))
    assert type(got) is kind
    assert "\n" not in str(got)  # one line

"""Bars pass-through: the first agent, proving the wiring from feed to clean bars.

It validates the structure of each bar, counts bars per stream (a Faust table)
and forwards them to ``market.bars.clean``. The data-quality agent replaces it.
"""

"""Data quality: the in-stream gate between market.bars and market.bars.clean."""

"""Portfolio risk: desk-wide limits over every bot's books, enforced in the stream."""

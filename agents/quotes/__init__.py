"""Synthetic quotes: top of book estimated from clean bars where no book is recorded."""

"""Reconciliation: the desk's own view of each venue account against the venue's reports."""

"""Alerts: every agent raises ``Alert`` events; the router de-duplicates, throttles, delivers."""

"""Pre-trade risk: every intent gets a decision with the measured values and the limits."""

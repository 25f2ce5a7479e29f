"""Strategies: one method from (bar, state) to order intents; registered by name."""

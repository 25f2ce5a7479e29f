"""The embedded runtime: a Kafka-API broker, PostgreSQL and ClickHouse on one machine.

Each part is either embedded (started and stopped here) or external (a URL or
DSN from settings, only health-checked). ``Stack`` composes the three.
"""

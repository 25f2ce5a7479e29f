"""deskplane's substrate: settings, Faust app factory, topic catalog, Avro codec,
embedded runtime (broker, Postgres, ClickHouse) and the ``desk`` CLI."""

__version__ = "0.1.0"

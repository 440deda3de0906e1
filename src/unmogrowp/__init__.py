"""UnMoGrowP: the library behind the lakehouse (no Dagster imports here)."""

__version__ = "0.1.0"

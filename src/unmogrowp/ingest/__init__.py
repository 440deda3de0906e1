"""Ingestion: landing files → bronze/silver Delta tables → ClickHouse raw tables."""

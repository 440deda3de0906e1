"""Dagster asset definitions. Thin: they call the plain functions of the library packages."""

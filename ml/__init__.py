"""Machine learning: feature logic, training and evaluation, importable without Dagster."""

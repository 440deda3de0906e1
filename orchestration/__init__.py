"""Dagster orchestration: the composition root, resources, jobs, schedules and sensors."""

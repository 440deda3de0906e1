"""Great Expectations suites and the factory that turns them into Dagster asset checks."""

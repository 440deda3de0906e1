"""The local ClickHouse server (chDB behind the ClickHouse HTTP interface) and its manager."""

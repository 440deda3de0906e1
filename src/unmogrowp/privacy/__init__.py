"""Privacy (SPEC §8): keyed identifiers, retention limits, erasure."""

# the retention limit's defaults (privacy.retention): landing lines and full IPs, then silver rows (13 months:
# a year of cohorts and its comparison month); here so settings can read them without importing the lake
RAW_DAYS, SILVER_DAYS = 30, 395

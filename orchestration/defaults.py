"""The generated week `unmogrowp generate` defaults to and `make demo` runs (UTC dates, inclusive)."""

from datetime import date

APPS, START, END, SEED, INSTALLS_PER_DAY = 3, date(2026, 9, 1), date(2026, 9, 7), 42, 6000
ACTIVITY_DAYS_AFTER = 0  # `generate`: users stop playing after the last install day
DEMO_ACTIVITY_DAYS_AFTER = 8  # the demo week's users keep playing 8 more days, so D7 of every cohort matures

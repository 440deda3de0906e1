-- fx_rates: the user's rows (UNMOGROWP_HOME/config/fx_rates.csv) and the defaults they do not override.
{{ config_rows('fx_rates', ['currency', 'rate_date']) }}

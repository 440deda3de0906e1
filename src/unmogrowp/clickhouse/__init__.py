"""The local ClickHouse server (chDB behind the ClickHouse HTTP interface) and its manager.

``manager`` starts ``server`` (the process: command line, data directory lock, state file, signals),
whose ``handler`` answers each request over ``transport`` (HTTP/1.1) in the terms of ``protocol``
(the ClickHouse HTTP interface) and runs it in the ``context`` the request and its tenant
(``tenancy``) set, on the ``engine`` (chDB, sessions); ``statement`` splits SQL from INSERT data.
"""

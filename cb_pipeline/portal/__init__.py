"""The commissioners' download portal (`cb-pipeline serve`): sign in, list and download the returns
and published dashboards registered for one's HWBs. users.py: the users file and password hashes;
store.py: the registries and the download audit table; app.py: the web application; commands.py:
the `serve` and `portal-user` commands."""

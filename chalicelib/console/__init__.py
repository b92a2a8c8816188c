"""The web console at /v2/ui/: static files (assets/) served by the app itself,
calling the management API (/v2/api/v2.0) with a console session (/v2/c/login)."""

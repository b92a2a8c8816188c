"""The token service at /v2/service/token: an HTTP adapter over chalicelib.auth."""

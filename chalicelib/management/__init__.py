"""Harbor's management API (/api/v2.0) on Berth: routes.py is the table,
dispatch.py the one place for authentication and the wire errors."""

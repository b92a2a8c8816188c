"""Clients of other registries: the OCI distribution API of any registry (Basic or
Docker token auth) and the adapters that list what a registry holds (docker-registry,
Harbor). Replication copies through them; a proxy cache pulls through the same client.

Outbound HTTP only (urllib3, streamed): no AWS calls, no knowledge of Berth's stores.
"""

"""Berth's local stack: moto, the resources from infra/, and an API Gateway stand-in.

Run it with ``python -m devstack`` (or ``make run``). This package is for development
machines and tests only; it lives outside chalicelib so it never ships to Lambda.
"""

"""Replication, Harbor's job service on Step Functions: the rules of a policy (rules.py);
docs/replication.md."""

"""Replication's workers: the Step Functions tasks of a run (an entry point, like front.py), the copy of one artifact (copier.py) between this Berth and another registry (endpoints.py)."""

"""Tag retention (Harbor's /retentions): what a policy may say and keeps (policy.py, pure),
and a run over a project's repositories (runs.py). docs/lifecycle.md."""

"""Deployment helpers: deploy/configure.py and the IAM policy template (README, "Deploying to AWS")."""

"""Runbooks: declarative on-call procedures (``playbooks/*.yaml``) and their engine."""

"""Triggers: when jobs run."""

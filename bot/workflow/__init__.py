"""Helpdesk workflows: request types in YAML, dialogue, approvals, reminders, search, stats."""

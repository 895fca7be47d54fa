"""Slack incoming webhooks: a channel reached by its webhook URL, no app install."""

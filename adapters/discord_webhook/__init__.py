"""Discord channel webhooks: a channel reached by its webhook URL, no bot user."""

"""Slack on slack-bolt: the adapter, Block Kit, OAuth installs, the app manifest."""

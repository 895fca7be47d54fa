"""Microsoft Teams, through a Workflows webhook posting an Adaptive Card."""

"""The `evbot` command line."""

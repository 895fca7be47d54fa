"""The configuration file: loading, checks, secrets and redaction."""

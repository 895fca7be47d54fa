"""The outbox worker: posting, pacing, retries, and the "now following" notices."""

"""Milestones, shares and records found in the journal of changes, and the replay of history."""

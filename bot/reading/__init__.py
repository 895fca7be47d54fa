"""Answers from the stored figures: queries and the in-memory read model."""

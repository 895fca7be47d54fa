"""The charts the bot draws (the only importer of matplotlib)."""

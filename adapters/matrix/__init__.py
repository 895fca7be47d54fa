"""The Matrix adapter (matrix-nio): announcements and `!ev-...` commands in rooms."""

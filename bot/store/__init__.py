"""The store: one protocol, the SQLite and PostgreSQL backends, their migrations, and the
row readers both share."""

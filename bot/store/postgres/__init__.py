"""The PostgreSQL backend, with the leader election and rate shares of replicas."""

"""The ports: what the core needs from a chat platform (`chat`) and from a store (`store`)."""

"""Running the bot: the composition root, the app with its scheduler, the ops server."""

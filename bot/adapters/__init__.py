"""One module per real thing the bot talks to, each behind a port of `bot.ports`."""

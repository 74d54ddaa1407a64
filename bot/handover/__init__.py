"""The hand-over to people: staff teams and volunteer language mediators, relayed through the bot."""

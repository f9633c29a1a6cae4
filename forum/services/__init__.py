"""The write path: every state change users see goes through a function here."""

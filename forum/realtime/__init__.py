"""Socket.IO: event handlers and post-commit publishing."""

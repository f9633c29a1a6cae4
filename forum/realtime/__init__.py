"""Socket.IO handlers and presence (the events services emit live in forum.events): may import services and everything below, never web code."""

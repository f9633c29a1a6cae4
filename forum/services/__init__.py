"""The write path, one module per domain: every state change goes through a function here; may import queries, events, policy, models and base modules, never web or socket code."""

"""The read side: one module per domain, plus `payloads`, the one shape of what is sent.

Modules here only read (no commits, no events). They may import `policy`,
`models`, `text`, `formatting`, `links` and the extensions; never services or web code.
"""

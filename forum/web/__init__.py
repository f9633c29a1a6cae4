"""HTML views, one blueprint per area. Views parse, call a service, render; never commit."""

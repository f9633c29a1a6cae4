"""HTML views, one blueprint per area, plus forms, navigation and exports: views parse, call a service or query, render, never commit; may import services and everything below."""

"""pytest glue. `hooks` is the pytest11 entry point and imports only pytest; the session,
the decorator, hook specifications and settings profiles load when they are needed."""

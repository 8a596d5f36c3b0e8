"""Write operations (units of work) shared by the HTTP handlers, the CLI and the workers."""

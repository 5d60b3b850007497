"""User interfaces: the command line (and, later, the web page). They call the task APIs only."""

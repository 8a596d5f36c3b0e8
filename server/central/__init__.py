"""ODK Central's REST API at /v1/, so pyodk, ruODK and Central's habits work here unchanged.

Central's API documentation is the specification; where it is silent, this does what Central
does. One server is one project (server/central/projects.py says why).
"""

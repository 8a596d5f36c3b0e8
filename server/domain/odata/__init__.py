"""ODK Central's OData feed of a form, as pure functions: the tables a form's field list makes
(model), its metadata and service documents (edmx), the query options (options, selection),
the JSON of a row (values) and the ids that join the tables (ids). The database side is
server/queries/odata_*.py, the HTTP side server/central/odata*.py.
"""

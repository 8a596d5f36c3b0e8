"""Files kept on disk: submission attachments and form media, content-addressed."""

"""Configuration: the YAML language (``schema``) and the loader that reads it (``loader``)."""

"""The database backend: PostGIS, failing fast within a request that already found the
database unavailable (gridmgmt/overload.py)."""

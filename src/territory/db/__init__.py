"""Databases as sources and destinations: PostgreSQL/PostGIS and DuckDB.

:mod:`.connect` checks connection strings and keeps secrets out of messages.
"""

"""Fixtures every test folder can use: the throw-away PostgreSQL cluster and the state backends."""

try:  # `tests` as a package
    from .postgres_cluster import (
        backend_name,
        pg_cluster,
        pg_database,
        pg_location,
        state_where,
    )
except ImportError:  # `tests` as a plain folder on sys.path (pytest's default import mode)
    from postgres_cluster import (
        backend_name,
        pg_cluster,
        pg_database,
        pg_location,
        state_where,
    )

__all__ = ["backend_name", "pg_cluster", "pg_database", "pg_location", "state_where"]

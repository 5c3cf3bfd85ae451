"""The PostgreSQL migration series: the same numbers and names as the SQLite one."""

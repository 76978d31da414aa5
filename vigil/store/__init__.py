"""Typed queries: the only place in Vigil that writes SQL.

Every function takes an open connection and leaves transaction control to the caller,
except where its docstring says it commits.
"""

"""Shared pytest configuration."""

# Import hypothesis at collection time. Its pytest plugin otherwise imports it lazily at
# session end, which under CPython 3.11.7 can crash with "AST constructor recursion
# depth mismatch" when only tests that never used hypothesis ran (e.g. the interop
# files alone).
import hypothesis  # noqa: F401

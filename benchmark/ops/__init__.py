"""Shared tensor operations used by several method families."""

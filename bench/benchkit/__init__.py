"""Shared pieces of the benchmarks: result tables, server processes, audio, load generation."""

"""Executors: where job runs happen (greenlets, inline, threads, processes)."""

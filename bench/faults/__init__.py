"""The fault kit (`make faults`): the stack of its own, broken on purpose under load.

It lives in bench/ beside the benchmarks because it is one of them: a script that starts
its own servers and database, drives them over loopback and prints a table of figures
(docs/reliability.md). It is not a test: it takes minutes, stops and starts PostgreSQL
and Redis, and its figures depend on the machine.
"""

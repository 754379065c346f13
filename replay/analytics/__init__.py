"""Turning recordings into answers: actions (named, retroactive event definitions) and
what is built on them. Pure cores (`matchers`) beside the queries that use them."""

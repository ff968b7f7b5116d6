"""Clients for a Victron installation's two sources: the Cerbo GX's local API and VRM.

Written like a standalone library: nothing in this package imports Home Assistant or the rest
of the integration (`scripts/lint` checks both), and the caller injects the aiohttp session.
"""

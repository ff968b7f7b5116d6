"""Tests of the client package on plain aiohttp, without Home Assistant."""

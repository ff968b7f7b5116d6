"""Tests for the Victron Cerbo GX integration."""

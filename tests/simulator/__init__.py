"""Tests of the simulator (dev/simulator), without Home Assistant."""

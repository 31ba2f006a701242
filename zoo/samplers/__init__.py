"""Noise schedules and samplers (plain functions with one shared signature). Light to import."""

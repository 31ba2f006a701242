"""zoo.evaluate"""

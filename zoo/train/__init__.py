"""zoo.train"""

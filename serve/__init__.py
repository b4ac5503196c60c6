"""evoforge.serve"""

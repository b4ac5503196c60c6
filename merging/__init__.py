"""evoforge.merging"""

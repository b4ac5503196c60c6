"""evoforge.graphs"""

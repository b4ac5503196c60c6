"""evoforge.data"""

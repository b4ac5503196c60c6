"""evoforge.training"""

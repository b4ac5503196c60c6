"""evoforge.agents"""

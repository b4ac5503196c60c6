"""evoforge.llm"""

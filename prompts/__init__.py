"""evoforge.prompts"""

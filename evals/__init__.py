"""evoforge.evals"""

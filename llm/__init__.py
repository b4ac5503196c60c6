"""The LLM gateway: the one place that talks to LLMs (through LiteLLM, imported lazily).

Use :class:`evoforge.llm.gateway.LLMGateway`; render its usage with :func:`evoforge.llm.usage.usage_table`.
"""

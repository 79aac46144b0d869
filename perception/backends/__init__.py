"""Model backends: implementations of ``perception.model.Model``.

- ``chat``: one ModelRequest -> the chat message lists that servers and processors take.
- ``openai_server``: an OpenAI-compatible ``/v1/chat/completions`` client (vLLM, SGLang, ...).
- ``transformers_vlm``: in-process generation with transformers (the only module importing torch).

Importing this package imports nothing heavy; each backend is imported only when it is used.
"""

"""Model backends: implementations of ``perception.model.Model``.

- ``chat``: one ModelRequest -> the chat message lists that servers and processors take.
- ``openai_server``: an OpenAI-compatible ``/v1/chat/completions`` client (vLLM, SGLang, ...).
- ``transformers_vlm``: in-process generation with transformers; ``processors`` builds its processor
  (with an image-only fallback where torchvision is missing). These two are the only modules that
  import torch / transformers.

Importing this package imports nothing heavy; each backend is imported only when it is used.
"""

"""The data engine for Gaze's built-in VLM: generated web pages, rendered in Chromium, annotated
from the DOM, turned into alignment (reading/locating) and instruction (multi-step demonstration)
samples in sharded folders. Entry point: ``python -m tasks.synth``; format: docs/DATA.md.

Importing the package imports nothing heavy; the modules are imported where they are used.
"""

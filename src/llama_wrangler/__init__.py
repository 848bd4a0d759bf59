"""Llama Wrangler: find, download, convert, organise and serve local LLMs with llama.cpp."""

__version__ = "0.1.0"
APP_NAME = "Llama Wrangler"
APP_ID = "llama-wrangler"

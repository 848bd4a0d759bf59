"""The in-app browser: Hugging Face and Ollama tabs with the "Get with Llama Wrangler" bridge, and the Chat
page. QtWebEngine is heavy (a second process, ~100 MB): only :mod:`lazy` and :mod:`pages` may be imported at
start-up; they load the rest the first time a web page is shown."""

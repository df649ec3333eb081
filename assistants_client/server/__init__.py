"""The Assistants API server: the engine, its responders, stores and HTTP transports."""

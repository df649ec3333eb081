"""The chat example's Django project: settings, URLs, and the WSGI and ASGI applications."""

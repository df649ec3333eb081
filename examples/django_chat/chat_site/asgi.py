"""The ASGI application, for uvicorn or daphne: `uvicorn chat_site.asgi:application`.

Under ASGI the site serves its async views (`chat_site.settings_asgi`).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_site.settings_asgi")

application = get_asgi_application()

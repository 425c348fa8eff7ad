"""The explorer and onboarding HTTP API.

``create_app`` builds the FastAPI application; ``depin api serve`` runs it under uvicorn.
"""

from api.main import create_app
from api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]

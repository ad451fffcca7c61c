"""The pages that support peer leaders, registered as one: supervision, training, ratings."""

from server.admin import supervision

ROUTES = [*supervision.ROUTES]

"""The pages that support peer leaders, registered as one: supervision, training, ratings."""

from server.admin import ratings, supervision, training

ROUTES = [*supervision.ROUTES, *training.ROUTES, *ratings.ROUTES]

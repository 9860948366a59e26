"""The central registry: the HTTP API desks sync with, over the same store and services as a desk."""

"""The gateway's routes, one module per domain. Each module has a mixin of HTTP
entrypoints, the ``PERMISSIONS`` its operations need and ``document(spec)`` for OpenAPI;
``gateway/service.py`` composes them."""

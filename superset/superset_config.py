"""Superset configuration for the warehouse's dashboards; every value comes from the environment.

Loaded through SUPERSET_CONFIG_PATH by `phw stack up` (local) and by docker-compose (server).
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_DATABASE_URI"]
DATA_DIR = os.environ.get("SUPERSET_HOME", os.path.expanduser("~/.superset"))

# Chinese-first UI for the commission; English available.
BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}

# File caches shared by every gunicorn worker (no Redis on the embedded stack): a per-process
# SimpleCache misses in the other worker, and a dashboard's filter state saved by one worker
# must be found by the next request whichever worker answers it.
CACHE_DIR = os.path.join(DATA_DIR, "cache")
CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": os.path.join(CACHE_DIR, "metadata"),
    "CACHE_DEFAULT_TIMEOUT": 300,
}
DATA_CACHE_CONFIG = {**CACHE_CONFIG, "CACHE_DIR": os.path.join(CACHE_DIR, "data")}
FILTER_STATE_CACHE_CONFIG = {
    **CACHE_CONFIG,
    "CACHE_DIR": os.path.join(CACHE_DIR, "filter_state"),
    "CACHE_DEFAULT_TIMEOUT": 86400,
}
EXPLORE_FORM_DATA_CACHE_CONFIG = {
    **FILTER_STATE_CACHE_CONFIG,
    "CACHE_DIR": os.path.join(CACHE_DIR, "explore_form_data"),
}
RATELIMIT_STORAGE_URI = "memory://"

WTF_CSRF_ENABLED = True
# Superset's production default (Talisman) with a Content Security Policy that lets the browser
# load only from this server: upstream's policy also allows its telemetry pixel (scarf.sh),
# map tiles and web fonts, which a commission's dashboards do not use and must not call.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
FEATURE_FLAGS = {"DASHBOARD_RBAC": True}
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000

"""The platform's entities, declared in ``phwarehouse.contract``: re-exported for the callers
of the simulator's former module (the pipeline's assets, tests)."""

from phwarehouse.contract import *  # noqa: F403
from phwarehouse.contract import __all__  # noqa: F401

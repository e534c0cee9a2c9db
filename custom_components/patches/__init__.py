"""Our patches of Rasa 3.6.21's internals: why each exists, what it saves and how it is tested is in
docs/performance.md.

Rasa has no start-up hook, but every process that trains or loads our model (``rasa train``,
``rasa run``, ``rasa shell``, ``rasa test``) creates the components config.yml names, so the
pipeline starts with one whose only work is to call ``install()`` when Rasa creates it:
``custom_components.patches.RasaPatches`` (component.py). Nothing else installs them: importing
this package or any other module of ``custom_components`` replaces nothing. ``install()``
replaces each piece once per process, refuses any Rasa but 3.6.21, and replaces nothing at all
with ``OTKE_RASA_PATCHES=off``.
"""

from custom_components.patches.component import RasaPatches
from custom_components.patches.installing import (
    PATCHES,
    RASA_VERSION,
    SWITCH,
    RasaPatchesRefused,
    install,
)

__all__ = ["PATCHES", "RASA_VERSION", "SWITCH", "RasaPatches", "RasaPatchesRefused", "install"]

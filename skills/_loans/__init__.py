"""Node loans: support package of ``skills/loans.py`` (models, inventory, Hiera files, git, expiry).

Its own tortoise app: ``MODELS`` and ``MIGRATIONS`` are read through the ``quartermaster.models``
entry point (label ``loans``). See docs/loans.md.
"""

MODELS = ["skills._loans.models"]
MIGRATIONS = "skills._loans.migrations"

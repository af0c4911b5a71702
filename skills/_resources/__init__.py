"""Support package of the ``vms`` skill: the resource store, the provider registry, the policy,
provisioning, reconcile, the observers that watch what was handed out, and the CLI.

Modules whose names start with ``_`` are re-imported by ``reload skills`` with the skills."""

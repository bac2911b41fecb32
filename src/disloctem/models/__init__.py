"""Models, one sub-package per method; shared plumbing in :mod:`disloctem.models.common`."""

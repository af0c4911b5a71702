"""Skills: every public module here is loaded at start and re-imported by `reload skills`."""

"""Stand-ins used by the tests: the workflow stack deployed from the template, fake AWS homes."""

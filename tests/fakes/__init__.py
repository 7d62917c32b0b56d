"""Stand-ins used by the tests: a recording approval Lambda, patches for moto's gaps."""

"""shallowml benchmarks: importable scripts, each with a ``main()``."""

"""Building and running Stan programs: compile cache, backends, Laplace pilot.

Sub-modules are imported explicitly (``unite_stan.stan.backends``, ``unite_stan.stan.pilot``),
so importing this package loads no Stan toolchain.
"""

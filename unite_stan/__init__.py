"""unite_stan: unite's spectral line fitting API backed by Stan.

Sub-modules are imported explicitly, exactly as with unite::

    from unite_stan import continuum, line, model, prior, results, spectrum
"""

__version__ = "0.1.0"

from unite_stan import _style  # noqa: E402

# 'unite.mplstyle' becomes known to matplotlib when matplotlib.style is imported, so that
# importing unite_stan does not import matplotlib
_style.install()

"""trm-rl: recursive reasoning policies built on the Tiny Recursive Model (TRM).

Importing the package is cheap (no torch import); use ``trm_rl.model`` for the model and
``trm_rl.utils`` for seeding and device helpers.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

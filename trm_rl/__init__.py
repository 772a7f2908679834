"""trm-rl: recursive reasoning policies built on the Tiny Recursive Model (TRM).

``trm_rl.model`` holds the model, ``trm_rl.supervised`` and ``trm_rl.policies`` the two ways to
train it, ``trm_rl.utils`` seeding and device helpers. ``trm_rl.load_pretrained(name)`` loads a
model shipped with the package (:mod:`trm_rl.pretrained`; ``trm-rl models`` lists them).
"""

from __future__ import annotations

from trm_rl.pretrained import load_pretrained

__version__ = "0.1.0"

__all__ = ["__version__", "load_pretrained"]

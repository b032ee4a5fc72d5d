"""iamlint: find and fix over-broad AWS IAM permissions.

Importing the package does no work: the catalogue, rules and loaders are read on first use.
"""

__version__ = "0.1.0"

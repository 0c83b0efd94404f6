"""Example projects that ``gnomon demo`` builds; each subpackage owns one domain's data.

The package itself exports nothing: callers import the domain they want, such as
:mod:`gnomon.examples.retail`, so that importing ``gnomon.examples`` stays free of numpy work.
"""

__all__: list[str] = []

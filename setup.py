"""The one compiled part of dataprep, optional: the unit loops of ``dataprep.text.native``.

Everything else is in pyproject.toml.  ``optional=True``: where no C compiler (or no Python
headers) is found, the build goes on without the module and the NumPy code runs instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dataprep.text._unit_kernel", ["dataprep/text/_unit_kernel.c"], optional=True)])

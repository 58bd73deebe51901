"""The ``dataprep`` command line (imported as ``dataprep.cli``)."""

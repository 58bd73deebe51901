"""What a run did, for people: report.html, its SVG charts, ``dataprep inspect``."""

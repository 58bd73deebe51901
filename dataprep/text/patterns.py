"""RE2 patterns (Arrow's regex kernels) shared by the text modules."""

#: a line break as Python's ``str.splitlines`` sees one: CRLF, or any of its single separators
LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\x{2028}\x{2029}]"

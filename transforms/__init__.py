"""Built-in stages. Each module holds one stage; recipes name them by their short name
(see :data:`dataprep.registry.BUILTINS`)."""

"""Online gene-set sources: the light :mod:`.registry` (one entry per source), one module per source and
:mod:`.common` for what they share. Nothing is imported here, so importing the registry stays light."""

"""Beside runs: the fluorescence teacher, instant previews, guided labelling, studies, pseudo-masks."""

"""One reader per microscopy file format, each behind readers.base.ImageReader; imageio.open_image
chooses by the file's first bytes."""

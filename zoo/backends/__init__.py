"""Runtime backends that run the encode / denoise / decode stages. Light to import."""

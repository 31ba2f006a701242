"""The safety promises of docs/security.md: shared-folder schemas and paths, atomic writes, the output
guard and the private cache folder. They import nothing of zoo but :mod:`zoo.errors`."""

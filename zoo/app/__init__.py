"""``zoo view``: a local web page (Gradio, the optional extra ``zoo[app]``) that shows LR, bicubic, SR and the
uncertainty map of a file side by side.

The page has no SR path of its own: :mod:`zoo.app.engine` runs :func:`zoo.data.sr_files.run_jobs` (what
``zoo sr`` runs) into a folder and reads the written files back with zoo's readers; :mod:`zoo.app.display`
turns arrays into what the panels show; :mod:`zoo.app.page` lays out the page. Only ``page`` imports Gradio.
"""

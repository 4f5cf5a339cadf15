"""Files sentinet knows by name and can fetch: the SentiRuEval-2016 data and the navec vectors.

``catalog`` says where each comes from and which bytes are accepted, ``places`` where fetched
files are kept (and so where configs look for them), ``http`` fetches one file safely,
``packaged`` finds one inside an installed package, ``fetch`` puts these together for the CLI.
This package sits below ``config``: path resolution asks it where else a file may be.
"""

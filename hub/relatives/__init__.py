"""Relatives (pårørende): the registry, who may be told of an alert, and how.

Pure: ``model`` (the registry's records), ``disclose`` (may this relative be told
now?), ``message`` (the text a relative gets), ``token`` (the signed reply link).
Shell: ``api`` (the registry's and the reply's HTTP routes), ``book`` (the registry
cached for the router), ``channel`` (delivery through the signed webhook).
"""

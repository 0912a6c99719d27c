"""The web console of ``hub serve``: runs, manual steps, dead letters, compliance and health in a browser.

:func:`hub.web.app.attach` mounts it at ``/`` beside the webhook receiver's routes;
:mod:`hub.web.accounts` keeps the people who may sign in (``hub users``).
"""

"""Event intake and scheduling: what `hub serve` and `hub worker` run.

* :mod:`~hub.events.receiver`: the ASGI app (``POST /webhooks/<connector>``, ``/healthz``, ``/metrics``);
* :mod:`~hub.events.store`: the durable, deduplicated intake (the ``events`` table);
* :mod:`~hub.events.processor`: resume waiting workflows and trigger syncs, with retries;
* :mod:`~hub.events.routing`: which sync jobs an event touches;
* :mod:`~hub.events.scheduler`: cron schedules that never overlap themselves;
* :mod:`~hub.events.lifecycle`, :mod:`~hub.events.calendar`, :mod:`~hub.events.psa`:
  the co-managed help desk's ticket rules on business days;
* :mod:`~hub.events.runtime`, :mod:`~hub.events.service`, :mod:`~hub.events.tasks`:
  the same units of work wired for one process or for Celery workers.

See docs/events.md.
"""

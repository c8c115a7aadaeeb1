"""The real-time side: how a change reaches every open page, and what a page is told on joining.

One publish (a journalist saves; any process, Daphne or gunicorn):

    services.entry_publish          the row, its revision, after commit:
      -> broadcast.send_entry_change    the websocket frame, encoded once whole and once
                                        compact (the live page's ?entry=card)
        -> delivery.publish             one message to the event's group on the channel layer,
                                        carrying both
      then one log line (liveblog.publish): event, entry, revision, who, ms from commit
    ... in every Daphne process with readers of the event:
        delivery.Hub (receive)          notes the revision heard; changes that arrive while a
                                        fan-out is under way wait and go out as one batch
        -> Hub.fan_out                  to each reader's socket, one of the two strings: the
                                        encoding it asked for

One reader joining (a page opens /ws/live/<slug>/?since=R&entry=card):

    consumers.LiveConsumer.connect  rate limit, query (since, encoding), event
                                    (joining.event_to_join)
      -> joining.join                   subscribes (delivery.subscribe: later changes are
                                        held), works out the hello from the revision the
                                        process has heard (delivery owns it) or the
                                        database, with a catch-up if R is behind; sends it
        -> Subscription.start           the held changes newer than the hello, then each one

The process around them:

    runtime     everything a process keeps (hubs, jobs, held pages, kept catch-ups,
                counters), behind runtime.current(); nothing in module globals
    process     the process's start and stop (the ASGI lifespan): GC tuning and the jobs
    jobs        runs each periodic job in the event loop, logging an outage once
    scheduler   (job) scheduled entries go live at their time, in the one process
                that holds the cluster's lease
    lease       which process of the cluster runs its jobs: a short lease in Redis
    heartbeat   (job) each reader is told the event's revision, to catch up lost changes
    presence    (job) readers per event, per process, summed across processes in Redis
    collector   (job) full garbage collections once enough readers have left
    routing     the websocket URLs: readers', and the desks'

The journalists' desks (a staff socket per open desk or entry page):

    desk_socket     /ws/desk/<event_id>/, by the admin's session: joins the readers'
                    delivery (not counted as a reader) and the desk's group; who is on
                    the desk, editing what
    desk_news       changes readers are not told of (drafts, scheduled, awaiting
                    approval), to the desk's group, so that every desk's list stays current
"""

"""The subnet's end-to-end reliability suite, run by ``bench/reliability.py`` (see docs/DESIGN.md §10).

Modules: ``suite`` (durations per mode and the runner), ``report`` (figures and goals), ``stats``, ``net`` (a real
subnet of processes: chain, miners, validators), ``market`` (scenario 1, on the network that scenarios 2 to 4
reuse), ``faults`` (2 and 3), ``chainfaults`` (4), ``abuse`` with ``flood`` and ``chainflood`` (5), ``load`` (6),
``cheaters`` (7).
"""

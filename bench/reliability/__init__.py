"""The subnet's end-to-end reliability suite (issue 8), run by ``bench/reliability.py``.

Modules: ``report`` (figures and goals), ``net`` (a real subnet of processes: chain, miners, validators),
``quality`` (the miners' true quality, measured offline), ``market`` (scenarios 1 to 4 on one market run),
``abuse`` and ``flood`` (scenario 5), ``load`` (scenario 6).
"""

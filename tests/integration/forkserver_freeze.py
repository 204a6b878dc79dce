"""Imported last by the fault sweep's forkserver (``sweep.PRELOAD``): everything the
server imported is moved out of the garbage collector's reach.

A forked child shares its parent's memory until it writes to it, and a full collection
writes to the header of every object it visits.  Without this, the first full
collection in each lab process and worker copied every page the forkserver had
imported: about 80 ms of CPU per lab process (measured: 10 starts and stops of a 5-site
lab process took 1.75 s of CPU, 0.93 s with the freeze).  Python's documentation of
``gc.freeze`` recommends exactly this before a fork.
"""

import gc

gc.collect()
gc.freeze()

#!/usr/bin/env python3
"""gwpy's side of scripts/bench-triggers.sh: the Gravity Spy Q-transform of every trigger in a GWOSC HDF5 file,
one call per trigger on the same 64 s of strain GlitchScope takes (gwpy 4.1, the call Gravity Spy makes; no
plotting). Prints triggers per second."""
import sys
import time

from gwpy.timeseries import TimeSeries

path, triggers = sys.argv[1], [float(x) for x in open(sys.argv[2]) if x.strip() and not x.startswith("#")]
t0 = time.perf_counter()
data = TimeSeries.read(path, format="hdf5.gwosc")
read_s = time.perf_counter() - t0
t1 = time.perf_counter()
for gps in triggers:
    window = data.crop(gps - 32, gps + 32)
    window.q_transform(qrange=(4, 64), frange=(10, 2048), gps=gps, search=0.5, tres=0.002, fres=0.5,
                       outseg=(gps - 2, gps + 2), whiten=True)
q_s = time.perf_counter() - t1
print(f"gwpy {len(triggers)} triggers: read {read_s:.2f} s, q_transform {q_s:.2f} s = {len(triggers) / q_s:.2f} triggers/s")
